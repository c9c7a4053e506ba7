"""The DCA wizard: the first choice of strategy, the form, its live safety-order table (the API
preview's numbers), review, create and start once, and the DCA bot's edit page."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from accounts.tests.api import bearer
from accounts.tests.factories import make_user
from bots import actions
from bots.models import Bot, BotStatus
from bots.strategies import dca
from bots.tests.conftest import paper_account_for
from exchanges.instruments import instrument_for
from exchanges.models import ExchangeAccount
from exchanges.paper import market

D = Decimal
HTMX = {"HX-Request": "true"}
CELLS = ("Deviation", "Price", "Size", "Total size", "Average entry", "Take profit", "Rebound")


@pytest.fixture
def account(trader: User) -> ExchangeAccount:
    market.set_price("BTCUSDT", D("54000"))
    return paper_account_for(trader)


@pytest.fixture
def client_for(trader: User) -> Client:
    client = Client()
    client.force_login(trader)
    return client


def deal(account: ExchangeAccount, **overrides: Any) -> dict[str, str]:
    """d = 1%, s = 2: the safety orders sit 1, 3, 7, 15 and 31% below the base order."""
    values = {
        "strategy": "dca",
        "account": str(account.pk),
        "symbol": "BTCUSDT",
        "name": "My BTC DCA",
        "direction": "long",
        "base_order_size": "100",
        "safety_order_size": "50",
        "price_deviation": "1",
        "step_scale": "2",
        "volume_scale": "1.5",
        "max_safety_orders": "5",
        "max_active_safety_orders": "2",
        "take_profit": "1.5",
        "take_profit_on": "total",
        "start_condition": "immediately",
    }
    values.update(overrides)
    return values


def safety_rows(html: str) -> list[dict[str, Decimal]]:
    """Each safety order's row of the table, its cells as numbers."""
    rows = re.findall(r'<tr class="safety-order-row">(.*?)</tr>', html, re.S)
    parsed = []
    for row in rows:
        cells = dict(re.findall(r'<td data-label="([^"]+)">([^<]*)</td>', row))
        parsed.append({label: D(cells[label].replace(",", "").rstrip("%")) for label in ("#", *CELLS)})
    return parsed


def errors_on(html: str, field: str) -> str:
    slot = re.search(rf'<div id="errors-{field}" class="field-errors"[^>]*>(.*?)</div>', html, re.S)
    assert slot, f"no error slot for {field}"
    return slot.group(1)


def review(client: Client, data: dict[str, str]) -> str:
    response = client.post("/bots/new/", data)
    assert response.status_code == 200, response.content.decode()[:3000]
    token = re.search(r'name="token" value="([^"]+)"', response.content.decode())
    assert token
    return token.group(1)


# The first step -------------------------------------------------------------------


def test_the_first_step_offers_a_grid_or_a_dca_bot(account: ExchangeAccount, client_for: Client) -> None:
    grid_page = client_for.get("/bots/new/").content.decode()
    assert re.search(r'href="/bots/new/" aria-current="page" data-testid="choose-grid"', grid_page)
    assert 'href="/bots/new/?strategy=dca" data-testid="choose-dca"' in grid_page
    assert "sells everything at a take-profit above the average" in grid_page
    assert 'name="lower_price"' in grid_page  # the grid stays the default

    page = client_for.get("/bots/new/", {"strategy": "dca"})
    html = page.content.decode()
    assert page.status_code == 200
    assert "New DCA bot" in html
    assert 'href="/bots/new/?strategy=dca" aria-current="page"' in html
    assert '<input type="hidden" name="strategy" value="dca">' in html
    for name in ("base_order_size", "safety_order_size", "price_deviation", "take_profit", "cooldown"):
        assert f'name="{name}"' in html
    assert 'name="lower_price"' not in html
    assert 'name="step_scale" value="1"' in html  # defaults a trader need not type
    assert "Cooldown (seconds)" in html


# The live preview -------------------------------------------------------------------


def test_the_preview_lays_out_every_safety_order_by_the_formulas(
    account: ExchangeAccount, client_for: Client
) -> None:
    response = client_for.get("/bots/new/preview/", deal(account), headers=HTMX)
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html  # a fragment
    rows = safety_rows(html)
    assert [row["#"] for row in rows] == [1, 2, 3, 4, 5]
    assert [row["Deviation"] for row in rows] == [1, 3, 7, 15, 31]
    assert [row["Price"] for row in rows] == [D(53460), D(52380), D(50220), D(45900), D(37260)]
    assert [row["Size"] for row in rows] == [
        D(50),
        D(75),
        D("112.5"),
        D("168.75"),
        D("253.12"),
    ]  # 253.125, half-even
    config = dca.config_from_json(
        {k: v for k, v in deal(account).items() if k in dca.DcaConfig.__dataclass_fields__}
    )
    expected = dca.preview(config, instrument_for(account, "BTCUSDT"), D(54000))
    for row, want in zip(rows, expected.safety_orders, strict=True):
        assert row["Average entry"] == want.average_price.quantize(D("0.1"))
        assert row["Take profit"] == want.take_profit_price
        assert row["Rebound"] == want.rebound.quantize(D("0.01"))  # shown to the hundredth
        assert row["Total size"] == want.total_size.quantize(D("0.01"))
    assert 'data-testid="max-funds">759.38 USDT' in html  # 100 + 50·(1.5⁵ - 1)/0.5 = 759.375
    assert 'data-testid="funds-needed">759.88 USDT' in html  # and the base order's slippage room
    assert re.search(r'data-testid="lowest-price">37,260.0 USDT <span class="muted">\(31% below\)', html)
    assert 'data-testid="funds-available">5,000.00 USDT <span class="badge ok">fits' in html
    assert 'id="errors-take_profit" class="field-errors" hx-swap-oob="true"' in html
    assert '{"price": "37260", "side": "buy"}' in html  # the chart's lines


def test_the_preview_agrees_with_the_api_preview(
    trader: User, account: ExchangeAccount, client_for: Client
) -> None:
    data = deal(account, volume_scale="1.3", step_scale="1.2", max_safety_orders="8", take_profit_on="base")
    html = client_for.get("/bots/new/preview/", data, headers=HTMX).content.decode()
    api = bearer(trader, "read").post("/api/v1/bots/preview/", {**data, "account": account.pk}, format="json")
    assert api.status_code == 200, api.content
    body = api.json()
    rows = safety_rows(html)
    assert len(rows) == len(body["safety_orders"]) == 8
    for row, answer in zip(rows, body["safety_orders"], strict=True):
        assert row["Deviation"] == D(answer["deviation"])
        assert row["Price"] == D(answer["price"])
        assert row["Take profit"] == D(answer["take_profit_price"])
        assert row["Rebound"] == D(answer["rebound"]).quantize(D("0.01"))
        assert row["Average entry"] == D(answer["average_price"]).quantize(D("0.1"))
    assert f"{D(body['lowest_price']):,.1f} USDT" in html


def test_the_preview_works_as_a_full_page_without_javascript(
    account: ExchangeAccount, client_for: Client
) -> None:
    html = client_for.get("/bots/new/preview/", deal(account)).content.decode()
    assert "<html" in html
    assert 'name="base_order_size" value="100"' in html
    assert len(safety_rows(html)) == 5


def test_short_deals_cover_the_highest_price(account: ExchangeAccount, client_for: Client) -> None:
    html = client_for.get(
        "/bots/new/preview/", deal(account, direction="short"), headers=HTMX
    ).content.decode()
    assert [row["Price"] for row in safety_rows(html)] == [D(54540), D(55620), D(57780), D(62100), D(70740)]
    assert "Highest price covered" in html
    assert "short deal sells base the account holds" in html  # the strategy's warning
    assert "short</span>" in html  # the paper account holds no BTC


def test_bad_input_lands_on_its_field(account: ExchangeAccount, client_for: Client) -> None:
    data = deal(account, take_profit="0", max_safety_orders="101", price_deviation="abc")
    html = client_for.get("/bots/new/preview/", data, headers=HTMX).content.decode()
    assert "“abc” is not a number" in errors_on(html, "price_deviation")
    data = deal(account, take_profit="0", max_safety_orders="101")
    html = client_for.get("/bots/new/preview/", data, headers=HTMX).content.decode()
    assert "The take profit must be above zero" in errors_on(html, "take_profit")
    assert "between 1 and 100 safety orders" in errors_on(html, "max_safety_orders")
    assert safety_rows(html) == []

    response = client_for.post("/bots/new/", data)
    assert response.status_code == 400
    assert "The take profit must be above zero" in errors_on(response.content.decode(), "take_profit")
    assert not Bot.objects.exists()


def test_a_start_condition_asks_for_its_own_value(account: ExchangeAccount, client_for: Client) -> None:
    for condition, field in (("price", "start_price"), ("cooldown", "cooldown")):
        data = deal(account, start_condition=condition)
        html = client_for.get("/bots/new/preview/", data, headers=HTMX).content.decode()
        assert "Give the" in errors_on(html, field)
    data = deal(account, start_condition="price", start_price="50000")
    assert len(safety_rows(client_for.get("/bots/new/preview/", data, headers=HTMX).content.decode())) == 5


def test_another_account_brings_the_form_back_for_its_symbols(
    account: ExchangeAccount, client_for: Client
) -> None:
    html = client_for.get("/bots/new/", deal(account), headers=HTMX).content.decode()
    assert "<html" not in html
    assert html.lstrip().startswith('<form id="wizard-form"')
    assert 'name="safety_order_size" value="50"' in html  # what was typed stays
    assert '<input type="hidden" name="strategy" value="dca">' in html


def test_orders_below_the_venues_minimum_are_refused_on_the_safety_order(
    account: ExchangeAccount, client_for: Client
) -> None:
    html = client_for.get(
        "/bots/new/preview/", deal(account, safety_order_size="1"), headers=HTMX
    ).content.decode()
    assert "Safety order 1" in errors_on(html, "safety_order_size")


def test_a_deal_the_balance_cannot_fund_is_warned_and_not_reviewed(
    account: ExchangeAccount, client_for: Client
) -> None:
    data = deal(account, safety_order_size="2000")
    html = client_for.get("/bots/new/preview/", data, headers=HTMX).content.decode()
    assert 'class="badge warn">short' in html
    assert re.search(r'<li class="message warning">[^<]*Paper[^<]*</li>', html)
    response = client_for.post("/bots/new/", data)
    assert response.status_code == 400
    assert "USDT" in errors_on(response.content.decode(), "base_order_size")
    assert 'name="token"' not in response.content.decode()


def test_another_traders_account_is_not_offered_nor_accepted(
    account: ExchangeAccount, client_for: Client
) -> None:
    other = paper_account_for(make_user(email="other@example.com"))
    page = client_for.get("/bots/new/", {"strategy": "dca"}).content.decode()
    assert f'<option value="{other.pk}"' not in page
    data = deal(other)
    live = client_for.get("/bots/new/preview/", data, headers=HTMX).content.decode()
    assert "Select a valid choice" in errors_on(live, "account")
    assert client_for.post("/bots/new/", data).status_code == 400
    assert not Bot.objects.exists()


# Review, create and start ---------------------------------------------------------------


def test_review_then_confirm_creates_and_starts_the_dca_bot(
    trader: User, account: ExchangeAccount, client_for: Client
) -> None:
    data = deal(account, stop_loss="40", breakeven_after="2", max_deals="3")
    response = client_for.post("/bots/new/", data)
    html = response.content.decode()
    assert "Orders will be placed on your paper account “Paper”" in html
    assert 'data-testid="confirm-max-funds">759.38 USDT' in html
    assert not Bot.objects.exists()
    token = re.search(r'name="token" value="([^"]+)"', html)
    assert token

    confirmed = client_for.post("/bots/new/", {**data, "token": token.group(1), "confirm": "1"})
    bot = Bot.objects.get()
    assert confirmed.status_code == 302
    assert confirmed["Location"] == f"/bots/{bot.pk}/"
    assert (bot.owner, bot.exchange_account, bot.strategy, bot.name) == (trader, account, "dca", "My BTC DCA")
    assert bot.status == BotStatus.STARTING
    config = bot.strategy_config
    assert isinstance(config, dca.DcaConfig)
    assert config == dca.DcaConfig(
        symbol="BTCUSDT",
        base_order_size=D(100),
        safety_order_size=D(50),
        price_deviation=D(1),
        step_scale=D(2),
        volume_scale=D("1.5"),
        max_safety_orders=5,
        max_active_safety_orders=2,
        take_profit=D("1.5"),
        stop_loss=D(40),
        breakeven_after=2,
        max_deals=3,
    )
    again = client_for.post("/bots/new/", {**data, "token": token.group(1), "confirm": "1"})
    assert again["Location"] == f"/bots/{bot.pk}/"
    assert Bot.objects.count() == 1


def test_back_to_edit_keeps_the_values_and_creates_nothing(
    account: ExchangeAccount, client_for: Client
) -> None:
    response = client_for.post("/bots/new/", {**deal(account, volume_scale="1.7"), "edit": "1"})
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="volume_scale" value="1.7"' in html
    assert len(safety_rows(html)) == 5
    assert not Bot.objects.exists()


def test_a_grid_review_cannot_be_confirmed_as_a_dca_bot(account: ExchangeAccount, client_for: Client) -> None:
    grid = {
        "account": str(account.pk),
        "symbol": "BTCUSDT",
        "lower_price": "45000",
        "upper_price": "65000",
        "grid_count": "5",
        "investment": "1000",
    }
    token = review(client_for, grid)
    response = client_for.post("/bots/new/", {**deal(account), "token": token, "confirm": "1"})
    assert response.status_code == 400
    assert not Bot.objects.exists()


# The edit page ------------------------------------------------------------------------------


def _dca_bot(trader: User, account: ExchangeAccount, **overrides: Any) -> Bot:
    config = dca.config_from_json(
        {k: v for k, v in deal(account, **overrides).items() if k in dca.DcaConfig.__dataclass_fields__}
    )
    return actions.do_create_bot(trader, account, "DCA one", config, D(54000), strategy="dca")


def test_the_edit_page_shows_a_dca_bots_settings(
    trader: User, account: ExchangeAccount, client_for: Client
) -> None:
    bot = _dca_bot(trader, account, cooldown="600", start_condition="cooldown")
    response = client_for.get(f"/bots/{bot.pk}/edit/")
    html = response.content.decode()
    assert response.status_code == 200
    assert 'name="base_order_size" value="100"' in html
    assert 'name="volume_scale" value="1.5"' in html
    assert 'name="cooldown" value="600"' in html
    assert '<option value="cooldown" selected>' in html
    assert len(safety_rows(html)) == 5


def test_the_edit_page_previews_sent_values_without_javascript(
    trader: User, account: ExchangeAccount, client_for: Client
) -> None:
    bot = _dca_bot(trader, account)
    html = client_for.get(f"/bots/{bot.pk}/edit/", deal(account, max_safety_orders="3")).content.decode()
    assert 'name="max_safety_orders" value="3"' in html
    assert [row["Deviation"] for row in safety_rows(html)] == [1, 3, 7]
    bot.refresh_from_db()
    assert bot.strategy_config.max_safety_orders == 5  # nothing saved by a preview


def test_saving_the_edit_page_changes_the_config(
    trader: User, account: ExchangeAccount, client_for: Client
) -> None:
    bot = _dca_bot(trader, account)
    data = deal(account, name="Deeper", max_safety_orders="6", take_profit="2", trailing_deviation="0.5")
    response = client_for.post(f"/bots/{bot.pk}/edit/", {**data, "save": "1"})
    assert response.status_code == 302
    bot.refresh_from_db()
    assert bot.name == "Deeper"
    assert bot.strategy == "dca"
    assert bot.strategy_config.max_safety_orders == 6
    assert bot.strategy_config.trailing_deviation == D("0.5")
    assert bot.config["take_profit"] == "2"


def test_a_bad_edit_keeps_the_config_and_says_why(
    trader: User, account: ExchangeAccount, client_for: Client
) -> None:
    bot = _dca_bot(trader, account)
    response = client_for.post(
        f"/bots/{bot.pk}/edit/", {**deal(account, trailing_deviation="3"), "save": "1"}
    )
    assert response.status_code == 400
    assert "Keep the trailing deviation below the take profit" in errors_on(
        response.content.decode(), "trailing_deviation"
    )
    bot.refresh_from_db()
    assert bot.strategy_config.trailing_deviation is None


def test_a_running_dca_bot_is_not_edited(trader: User, account: ExchangeAccount, client_for: Client) -> None:
    bot = _dca_bot(trader, account)
    actions.do_start_bot(bot)
    response = client_for.post(f"/bots/{bot.pk}/edit/", {**deal(account, name="Changed"), "save": "1"})
    assert response.status_code == 302
    bot.refresh_from_db()
    assert bot.name == "DCA one"


def test_another_traders_dca_bot_is_a_404(account: ExchangeAccount, client_for: Client) -> None:
    other = make_user(email="other@example.com")
    bot = _dca_bot(other, paper_account_for(other))
    assert client_for.get(f"/bots/{bot.pk}/edit/").status_code == 404
    assert client_for.post(f"/bots/{bot.pk}/edit/", {**deal(account), "save": "1"}).status_code == 404


def test_copying_a_dca_bot_opens_the_dca_form_with_its_settings(
    trader: User, account: ExchangeAccount, client_for: Client
) -> None:
    config = dca.config_from_json({**deal(account), "stop_loss": "4"})
    bot = actions.do_create_bot(trader, account, "Source", config, D("54000"), strategy="dca")
    html = client_for.get(f"/bots/new/?clone={bot.pk}").content.decode()
    assert 'name="strategy" value="dca"' in html
    assert 'value="Copy of Source"' in html
    assert 'name="stop_loss" value="4"' in html
    assert 'name="volume_scale" value="1.5"' in html
    stranger = Client()
    stranger.force_login(make_user(email="dca-clone-stranger@example.com"))
    paper_account_for(User.objects.get(email="dca-clone-stranger@example.com"))
    assert stranger.get(f"/bots/new/?clone={bot.pk}").status_code == 404


def test_a_limit_base_order_is_chosen_in_the_form_and_kept(
    trader: User, account: ExchangeAccount, client_for: Client
) -> None:
    data = deal(account, base_order_type="limit")
    preview = client_for.get("/bots/new/preview/", data, headers=HTMX).content.decode()
    # The deal is laid out from the limit's price, a tick under 54,000: 53,999.9 less 1%.
    assert safety_rows(preview)[0]["Price"] == D("53459.9")
    assert 'data-testid="funds-needed">759.38 USDT' in preview  # no slippage room for a limit

    review = client_for.post("/bots/new/", data).content.decode()
    assert "as a limit order" in review
    token = re.search(r'name="token" value="([^"]+)"', review)
    assert token
    client_for.post("/bots/new/", {**data, "token": token.group(1), "confirm": "1"})
    bot = Bot.objects.get()
    assert bot.strategy_config.base_order_type is dca.BaseOrderType.LIMIT
    draft = actions.do_create_bot(trader, account, "Draft", bot.strategy_config, D(54000), strategy="dca")
    edit = client_for.get(f"/bots/{draft.pk}/edit/").content.decode()
    assert re.search(r'<option value="limit" selected>', edit)
