"""The create-bot wizard: live preview, field errors, clone, auto range, review, create once."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from decimal import ROUND_CEILING, Decimal
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import make_user
from bots import actions
from bots.models import Bot, BotEvent, BotStatus
from bots.strategies import grid
from bots.tests.conftest import paper_account_for
from bots.tests.factories import grid_config
from bots.views import wizard
from exchanges.instruments import instrument_for
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper import market
from exchanges.simulator.server import running_simulator
from exchanges.tasks import advance_paper_markets
from exchanges.tests.factories import API_KEY, API_SECRET

D = Decimal
HTMX = {"HX-Request": "true"}


@pytest.fixture
def account(trader: User) -> ExchangeAccount:
    market.set_price("BTCUSDT", D("54000"))
    return paper_account_for(trader)


@pytest.fixture
def client_for(trader: User) -> Client:
    client = Client()
    client.force_login(trader)
    return client


def worked_example(account: ExchangeAccount, **overrides: Any) -> dict[str, str]:
    values = {
        "account": str(account.pk),
        "symbol": "BTCUSDT",
        "name": "My BTC grid",
        "lower_price": "45000",
        "upper_price": "65000",
        "grid_count": "5",
        "spacing": "arithmetic",
        "direction": "long",
        "investment": "1000",
        "take_profit_action": "sell_base",
        "stop_loss_action": "sell_base",
    }
    values.update(overrides)
    return values


def levels_in(html: str) -> list[tuple[str, str]]:
    """(price, side) per row of the levels table, high to low."""
    rows = re.findall(
        r'<td data-label="Price">([^<]+)</td>\s*<td data-label="Side">'
        r'(?:<span class="side side-(\w+)">|<span class="muted">Empty)',
        html,
    )
    return [(price, side or "empty") for price, side in rows]


def errors_on(html: str, field: str) -> str:
    """The text of `field`'s error slot."""
    slot = re.search(rf'<div id="errors-{field}" class="field-errors"[^>]*>(.*?)</div>', html, re.S)
    assert slot, f"no error slot for {field}"
    return slot.group(1)


def value_of(html: str, field: str) -> str:
    found = re.search(rf'name="{field}" value="([^"]+)"', html)
    assert found, f"no value for {field}"
    return found.group(1)


def review(client: Client, data: dict[str, str]) -> str:
    response = client.post("/bots/new/", data)
    assert response.status_code == 200, response.content.decode()[:2000]
    token = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert token
    return token.group(1)


# The page and its preview -----------------------------------------------------


def test_the_page_needs_a_login(db: None) -> None:
    response = Client().get("/bots/new/")
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_without_an_account_the_page_says_how_to_add_one(trader: User, client_for: Client) -> None:
    response = client_for.get("/bots/new/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "Connect an exchange account first" in html
    assert 'href="/exchange-accounts/new/"' in html
    assert client_for.get("/bots/new/preview/").status_code == 200


def test_the_page_shows_the_form_the_price_and_the_filters(
    account: ExchangeAccount, client_for: Client
) -> None:
    response = client_for.get("/bots/new/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="lower_price"' in html
    assert 'name="investment"' in html
    assert '<option value="BTCUSDT" selected>BTCUSDT</option>' in html
    assert 'data-testid="last-price">54,000.0<' in html
    assert "Min order value" in html
    assert "5.00 USDT" in html
    assert "0.1% / 0.1%" in html
    assert 'href="/bots/new/"' in html  # the nav entry point


def test_the_preview_fragment_shows_the_worked_example(account: ExchangeAccount, client_for: Client) -> None:
    response = client_for.get("/bots/new/preview/", worked_example(account), headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html  # a fragment
    assert levels_in(html) == [
        ("65,000.0", "sell"),
        ("61,000.0", "sell"),
        ("57,000.0", "empty"),
        ("53,000.0", "buy"),
        ("49,000.0", "buy"),
        ("45,000.0", "buy"),
    ]
    assert 'id="preview-chart-data"' in html
    assert '{"price": "45000", "side": "buy"}' in html
    assert '{"price": "57000", "side": ""}' in html
    assert "Profit per grid" in html
    assert "Break-even" in html
    assert "If the price goes to the lower bound (45,000.0)" in html
    assert "No stop-loss is set" in html  # the strategy's warning
    assert 'id="errors-lower_price" class="field-errors" hx-swap-oob="true"' in html


def test_the_preview_works_as_a_full_page_without_javascript(
    account: ExchangeAccount, client_for: Client
) -> None:
    response = client_for.get("/bots/new/preview/", worked_example(account))
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" in html
    assert len(levels_in(html)) == 6
    assert 'value="45000"' in html  # the typed values stay in the form


def test_grid_count_changes_the_levels(account: ExchangeAccount, client_for: Client) -> None:
    html = client_for.get("/bots/new/preview/", worked_example(account, grid_count="10"), headers=HTMX)
    assert len(levels_in(html.content.decode())) == 11


# Bad input: messages on the fields, never a 500 ----------------------------------


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"upper_price": "40000"}, "upper_price", "The upper price must be above the lower price."),
        ({"grid_count": "60", "investment": "100"}, "investment", "Use at most"),
        ({"lower_price": "4O000"}, "lower_price", "“4O000” is not a number: write it like 22,000.5"),
        ({"investment": "1e999999"}, "investment", "“1e999999” is not a number"),
        ({"investment": "1" * 31}, "investment", "no more than 30 digits"),
        ({"investment": "NaN"}, "investment", "“NaN” is not a number"),
        ({"investment": "1,5"}, "investment", "“1,5” is ambiguous: write decimals with a point (1.5)"),
        ({"grid_count": "500"}, "grid_count", "less than or equal to 200"),
        ({"stop_loss_price": "50000"}, "stop_loss_price", "Set the stop-loss below the lower price."),
        ({"max_drawdown": "150"}, "max_drawdown", "less than or equal to 99.99"),
        ({"symbol": "DOGEUSDT"}, "symbol", "Select a valid choice"),
    ],
)
def test_bad_input_is_reported_on_its_field(
    account: ExchangeAccount, client_for: Client, overrides: dict[str, str], field: str, message: str
) -> None:
    data = worked_example(account, **overrides)
    response = client_for.post("/bots/new/", data)
    assert response.status_code == 400
    html = response.content.decode()
    assert message in errors_on(html, field)
    live = client_for.get("/bots/new/preview/", data, headers=HTMX).content.decode()
    assert message in live
    assert Bot.objects.count() == 0


def test_too_many_grids_names_the_most_this_investment_funds(
    account: ExchangeAccount, client_for: Client
) -> None:
    html = client_for.post("/bots/new/", worked_example(account, grid_count="60", investment="100")).content
    assert re.search(r"Use at most \d+ grids or invest at least \d+ USDT", html.decode())


def test_missing_fields_are_required_on_submit_but_quiet_while_typing(
    account: ExchangeAccount, client_for: Client
) -> None:
    data = {"account": str(account.pk), "symbol": "BTCUSDT", "grid_count": "5", "lower_price": "45000"}
    html = client_for.post("/bots/new/", data).content.decode()
    assert html.count("This field is required.") == 2  # upper price and investment
    assert re.search(
        r'<div id="errors-upper_price"[^>]*><ul class="errorlist"><li>This field is required', html
    )
    live = client_for.get("/bots/new/preview/", data, headers=HTMX).content.decode()
    assert "This field is required." not in live
    assert "Fill in upper price, investment" in live


def test_an_exchange_error_is_a_clear_message(account: ExchangeAccount, client_for: Client) -> None:
    market_less = worked_example(account, symbol="ETHUSDT")  # the paper venue has no ETH price yet
    response = client_for.post("/bots/new/", market_less)
    assert response.status_code == 400
    assert "Paper trading did not answer as expected" in response.content.decode()


def test_a_venue_that_cannot_answer_is_a_clear_message(trader: User, client_for: Client, settings) -> None:
    settings.ALLOW_CUSTOM_EXCHANGE_URLS = False
    account = ExchangeAccount(
        owner=trader,
        label="Simulator",
        exchange=ExchangeName.BYBIT,
        environment=Environment.CUSTOM,
        base_url="http://127.0.0.1:9",
    )
    account.set_credentials(API_KEY, API_SECRET)
    account.save()
    page = client_for.get("/bots/new/")
    assert page.status_code == 200
    assert "Custom exchange addresses are turned off on this server." in page.content.decode()
    response = client_for.post("/bots/new/", worked_example(account))
    assert response.status_code == 400
    assert "Custom exchange addresses are turned off on this server." in response.content.decode()
    assert Bot.objects.count() == 0


def test_another_traders_account_is_refused(account: ExchangeAccount, client_for: Client) -> None:
    stranger_account = paper_account_for(make_user(email="stranger@example.com"))
    data = {**worked_example(account), "account": str(stranger_account.pk)}
    response = client_for.post("/bots/new/", data)
    assert response.status_code == 400
    assert "Select a valid choice" in errors_on(response.content.decode(), "account")
    assert f'<option value="{stranger_account.pk}"' not in response.content.decode()
    live = client_for.get("/bots/new/preview/", data, headers=HTMX).content.decode()
    assert "Select a valid choice" in live
    assert 'data-testid="last-price"' not in live
    assert Bot.objects.count() == 0


# Clone ------------------------------------------------------------------------


def test_clone_prefills_the_form_from_an_own_bot(
    trader: User, account: ExchangeAccount, client_for: Client
) -> None:
    config = grid_config(stop_loss_price=D("40000"), max_drawdown=D("0.2"), grid_count=7)
    bot = actions.do_create_bot(trader, account, "BTC grid", config, D("54000"))
    html = client_for.get(f"/bots/new/?clone={bot.pk}").content.decode()
    assert 'value="Copy of BTC grid"' in html
    assert 'name="grid_count" value="7"' in html
    assert 'value="40000"' in html
    assert 'name="max_drawdown" value="20"' in html
    assert len(levels_in(html)) == 8  # the preview is there at once


def test_clone_of_another_traders_bot_is_a_404(account: ExchangeAccount, client_for: Client) -> None:
    stranger = make_user(email="stranger@example.com")
    theirs = actions.do_create_bot(stranger, paper_account_for(stranger), "Theirs", grid_config(), D("54000"))
    assert client_for.get(f"/bots/new/?clone={theirs.pk}").status_code == 404
    assert client_for.get("/bots/new/?clone=nonsense").status_code == 404


# Auto range ----------------------------------------------------------------------


def trade_a_day(start: Decimal) -> None:
    """A day of 15-minute prices swinging ±2% around `start`."""
    now = timezone.now()
    swings = [D("1.00"), D("1.01"), D("1.02"), D("1.01"), D("1.00"), D("0.99"), D("0.98"), D("0.99")]
    for i in range(96):
        at = now - timedelta(minutes=15 * (96 - i))
        market.set_price("BTCUSDT", (start * swings[i % len(swings)]).quantize(D("0.1")), at=at)
    market.set_price("BTCUSDT", start)


def test_auto_range_fills_the_form_with_a_band_around_the_price(
    account: ExchangeAccount, client_for: Client
) -> None:
    trade_a_day(D("54000"))
    response = client_for.get(
        "/bots/new/", {"account": str(account.pk), "investment": "1000", "auto_range": "1"}, headers=HTMX
    )
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="wizard-form"' in html
    lower, upper = D(value_of(html, "lower_price")), D(value_of(html, "upper_price"))
    grids = int(value_of(html, "grid_count"))
    assert lower < D("54000") * D("0.98")
    assert upper > D("54000") * D("1.02")
    assert lower > D("30000")
    assert upper < D("90000")
    assert 2 <= grids <= 200
    assert "standard deviations" in html
    # The suggestion is a config the strategy accepts with this investment.
    data = worked_example(account, lower_price=str(lower), upper_price=str(upper), grid_count=str(grids))
    assert levels_in(client_for.get("/bots/new/preview/", data, headers=HTMX).content.decode())


def test_auto_range_without_javascript_rerenders_the_page(
    account: ExchangeAccount, client_for: Client
) -> None:
    trade_a_day(D("54000"))
    html = client_for.get("/bots/new/", {"account": str(account.pk), "investment": "1000", "auto_range": "1"})
    assert "<html" in html.content.decode()
    assert 'name="lower_price" value="' in html.content.decode()


def test_auto_range_says_when_there_is_too_little_history(
    account: ExchangeAccount, client_for: Client
) -> None:
    html = client_for.get(
        "/bots/new/", {"account": str(account.pk), "auto_range": "1"}, headers=HTMX
    ).content.decode()
    assert "Auto range needs at least" in html


def chart_in(html: str) -> dict[str, Any]:
    found = re.search(r'<script id="preview-chart-data" type="application/json">(.*?)</script>', html, re.S)
    assert found, "no chart data on the page"
    return json.loads(found.group(1))


def assert_auto_range_and_chart_work(client: Client, account: ExchangeAccount) -> None:
    """Auto range suggests a band around the price, and the chart has two days of candles."""
    price = market.last_price("BTCUSDT")
    html = client.get(
        "/bots/new/", {"account": str(account.pk), "investment": "1000", "auto_range": "1"}, headers=HTMX
    ).content.decode()
    assert "Auto range needs at least" not in html
    assert "standard deviations" in html
    lower, upper = D(value_of(html, "lower_price")), D(value_of(html, "upper_price"))
    assert lower < price < upper
    grids = value_of(html, "grid_count")
    suggested = worked_example(account, lower_price=str(lower), upper_price=str(upper), grid_count=grids)
    chart = chart_in(client.get("/bots/new/preview/", suggested, headers=HTMX).content.decode())
    assert len(chart["candles"]) >= 2 * 24 * 4 - 1  # 48 hours of 15-minute candles
    assert D(chart["candles"][-1]["close"]) == price
    assert len(chart["levels"]) == int(grids) + 1


def test_a_minute_after_install_auto_range_and_the_chart_have_candles(
    trader: User, client_for: Client
) -> None:
    """A fresh database: the paper market has only the first minute of beat's feed steps."""
    for _ in range(30):  # a minute at the default PAPER_FEED_INTERVAL of 2 s
        advance_paper_markets()
    assert_auto_range_and_chart_work(client_for, paper_account_for(trader))


@pytest.mark.django_db(transaction=True)
def test_a_bybit_account_on_the_simulator_reads_its_klines_through_pybit() -> None:
    trader = make_user(email="klines@example.com")
    for _ in range(30):
        advance_paper_markets()
    with running_simulator() as simulator:
        simulator.add_key(API_KEY, API_SECRET, balances={"USDT": D("5000")})
        account = ExchangeAccount(
            owner=trader,
            label="Simulator",
            exchange=ExchangeName.BYBIT,
            environment=Environment.CUSTOM,
            base_url=simulator.url,
        )
        account.set_credentials(API_KEY, API_SECRET)
        account.save()
        client = Client()
        client.force_login(trader)
        assert_auto_range_and_chart_work(client, account)


# Review, confirm, create once -----------------------------------------------------


def test_submitting_shows_the_risks_and_creates_nothing(account: ExchangeAccount, client_for: Client) -> None:
    data = worked_example(account, stop_loss_price="40000")
    html = client_for.post("/bots/new/", data).content.decode()
    assert "Orders will be placed on your paper account “Paper”: virtual funds, no real money." in html
    assert "Create and start" in html
    assert "Back to edit" in html
    assert "Bought at market now" in html
    assert "your stop-loss" in html
    assert Bot.objects.count() == 0


def test_a_real_venue_is_named_as_real_money(trader: User) -> None:
    account = ExchangeAccount(owner=trader, label="Main", exchange="bybit", environment="mainnet")
    assert (
        wizard.venue_warning(account)
        == "Real orders will be placed on Bybit · Mainnet (real funds) with your account “Main”."
    )


def test_back_to_edit_keeps_the_values(account: ExchangeAccount, client_for: Client) -> None:
    data = worked_example(account)
    review(client_for, data)
    html = client_for.post("/bots/new/", {**data, "edit": "1"}).content.decode()
    assert 'name="lower_price" value="45000"' in html
    assert Bot.objects.count() == 0


def test_confirming_creates_and_starts_the_reviewed_bot(
    trader: User, account: ExchangeAccount, client_for: Client
) -> None:
    data = worked_example(account, max_drawdown="25")
    token = review(client_for, data)
    response = client_for.post("/bots/new/", {**data, "token": token, "confirm": "1"})
    bot = Bot.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/bots/{bot.pk}/"
    assert bot.owner == trader
    assert bot.exchange_account == account
    assert bot.name == "My BTC grid"
    assert bot.symbol == "BTCUSDT"
    assert bot.status == BotStatus.STARTING
    assert bot.grid_config == grid_config(max_drawdown=D("0.25"))
    assert bot.price_at_creation == D("54000")
    assert list(BotEvent.objects.filter(bot=bot).order_by("id").values_list("message", flat=True)) == [
        "Created.",
        "Starting.",
    ]


def test_the_confirmation_creates_what_was_reviewed_not_what_is_posted(
    account: ExchangeAccount, client_for: Client
) -> None:
    data = worked_example(account)
    token = review(client_for, data)
    client_for.post("/bots/new/", {**data, "investment": "9999", "token": token, "confirm": "1"})
    assert Bot.objects.get().grid_config.investment == D("1000")


def test_a_double_submit_creates_one_bot(account: ExchangeAccount, client_for: Client) -> None:
    data = worked_example(account)
    token = review(client_for, data)
    first = client_for.post("/bots/new/", {**data, "token": token, "confirm": "1"})
    second = client_for.post("/bots/new/", {**data, "token": token, "confirm": "1"})
    assert Bot.objects.count() == 1
    assert second.status_code == 302
    assert second["Location"] == first["Location"]


def test_a_confirmation_racing_another_one_creates_nothing(
    account: ExchangeAccount, client_for: Client
) -> None:
    """Two presses at once: the first holds the claim while it creates; the second backs off."""
    data = worked_example(account)
    token = review(client_for, data)
    assert cache.add(f"bot-wizard:confirm:{token}", "claimed", 60)  # the first press, mid-creation
    response = client_for.post("/bots/new/", {**data, "token": token, "confirm": "1"})
    assert response.status_code == 302
    assert response["Location"] == "/"
    assert Bot.objects.count() == 0


def test_a_confirmation_without_a_review_creates_nothing(
    account: ExchangeAccount, client_for: Client
) -> None:
    response = client_for.post("/bots/new/", {**worked_example(account), "token": "forged", "confirm": "1"})
    assert response.status_code == 400
    assert "review has expired" in response.content.decode()
    assert Bot.objects.count() == 0


def test_another_trader_cannot_spend_a_review_token(account: ExchangeAccount, client_for: Client) -> None:
    data = worked_example(account)
    token = review(client_for, data)
    stranger = make_user(email="stranger@example.com")
    paper_account_for(stranger)
    other = Client()
    other.force_login(stranger)
    response = other.post("/bots/new/", {**data, "token": token, "confirm": "1"})
    assert response.status_code == 400  # the token lives in the reviewer's session only
    assert Bot.objects.count() == 0


def test_a_price_move_after_review_sends_the_trader_back_to_the_form(
    account: ExchangeAccount, client_for: Client
) -> None:
    instrument = instrument_for(account, "BTCUSDT")
    config = grid_config()
    at_review = grid.minimum_investment(config, instrument, D("54000")).to_integral_value(ROUND_CEILING)
    assert grid.minimum_investment(config, instrument, D("64999")) > at_review  # the premise
    data = worked_example(account, investment=str(at_review))
    token = review(client_for, data)
    market.set_price("BTCUSDT", D("64999"))
    response = client_for.post("/bots/new/", {**data, "token": token, "confirm": "1"})
    html = response.content.decode()
    assert response.status_code == 400
    assert "nvest at least" in errors_on(html, "investment")
    assert Bot.objects.count() == 0
    # A fresh review at the new price can still go through.
    fixed = {**data, "investment": "1000"}
    client_for.post("/bots/new/", {**fixed, "token": review(client_for, fixed), "confirm": "1"})
    assert Bot.objects.count() == 1
