"""The futures grid's wizard: the third strategy choice, the form with the trader's leverage cap,
its live preview (the API preview's numbers), review, the consent a liquidation inside the range
needs, create and start once, and the position one account's symbol shares."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.tests.api import bearer
from accounts.tests.factories import make_user
from bots.models import Bot, BotStatus
from bots.strategies import futures_grid as fg
from bots.tests.conftest import paper_account_for
from exchanges.models import ExchangeAccount
from exchanges.paper import market
from risk.models import RiskRules

D = Decimal
HTMX = {"HX-Request": "true"}


@pytest.fixture
def account(trader: User) -> ExchangeAccount:
    market.set_price("BTCUSDT", D("55000"))
    return paper_account_for(trader)


@pytest.fixture
def client_for(trader: User) -> Client:
    client = Client()
    client.force_login(trader)
    return client


def futures(account: ExchangeAccount, **overrides: Any) -> dict[str, str]:
    values = {
        "strategy": "futures_grid",
        "account": str(account.pk),
        "symbol": "BTCUSDT",
        "name": "My BTC futures",
        "mode": "long",
        "leverage": "10",
        "lower_price": "50000",
        "upper_price": "60000",
        "grid_count": "5",
        "spacing": "arithmetic",
        "investment": "1000",
    }
    values.update(overrides)
    return values


def errors_on(html: str, field: str) -> str:
    slot = re.search(rf'<div id="errors-{field}" class="field-errors"[^>]*>(.*?)</div>', html, re.S)
    assert slot, f"no error slot for {field}"
    return slot.group(1)


def token_of(html: str) -> str:
    found = re.search(r'name="token" value="([^"]+)"', html)
    assert found, html[:3000]
    return found.group(1)


def level_rows(html: str) -> list[tuple[str, ...]]:
    rows = re.findall(r'<tr class="level level-[a-z]+">(.*?)</tr>', html, re.S)
    return [
        tuple(re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S))
        for row in rows
    ]


def test_the_first_step_offers_a_futures_grid(account: ExchangeAccount, client_for: Client) -> None:
    grid_page = client_for.get("/bots/new/").content.decode()
    assert 'href="/bots/new/?strategy=futures_grid" data-testid="choose-futures-grid"' in grid_page
    page = client_for.get("/bots/new/?strategy=futures_grid").content.decode()
    assert re.search(r'aria-current="page" data-testid="choose-futures-grid"', page)
    assert 'name="leverage"' in page
    assert "Your cap: 20x (this server&#x27;s limit)." in page
    assert "Mark price" in page


def test_the_leverage_cap_shown_is_the_traders_own(
    trader: User, account: ExchangeAccount, client_for: Client
) -> None:
    RiskRules.objects.create(user=trader, max_leverage=3)
    page = client_for.get("/bots/new/?strategy=futures_grid").content.decode()
    assert "Your cap: 3x (your own limit in Risk rules)." in page
    response = client_for.get("/bots/new/preview/", futures(account), headers=HTMX)
    assert "Choose a leverage from 1x to 3x (your own limit in Risk rules)." in errors_on(
        response.content.decode(), "leverage"
    )


def test_the_preview_shows_the_levels_margin_and_liquidation_of_the_api(
    trader: User, account: ExchangeAccount, client_for: Client
) -> None:
    response = client_for.get("/bots/new/preview/", futures(account), headers=HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert level_rows(html) == [
        ("60,000.0", "Sell", "0.037 BTC", "Yes"),
        ("58,000.0", "Sell", "0.037 BTC", "Yes"),
        ("56,000.0", "Empty", "—", "—"),
        ("54,000.0", "Buy", "0.037 BTC", "No"),
        ("52,000.0", "Buy", "0.037 BTC", "No"),
        ("50,000.0", "Buy", "0.037 BTC", "No"),
    ]
    api = bearer(trader, "read").post(
        "/api/v1/bots/preview/", {**futures(account), "grid_count": 5, "account": account.pk}, format="json"
    )
    body = api.json()
    assert D(body["liquidation_price"]) == D("48055.56")
    assert 'data-testid="liquidation-long">≈ 48,055.6 USDT' in html  # on the tick, towards the entry
    assert 'data-testid="initial-margin">989.07 USDT' in html
    assert 'data-testid="position-at-start">0.074 BTC long' in html
    assert "Maintenance margin rate</dt><dd>0.33%" in html
    assert fg.FUNDING_NOTE in html
    assert 'data-testid="funds-needed">1,000.00 USDT' in html
    assert "liquidation-in-range" not in html


def test_a_neutral_grid_shows_both_sides_liquidation(account: ExchangeAccount, client_for: Client) -> None:
    html = client_for.get(
        "/bots/new/preview/", futures(account, mode="neutral"), headers=HTMX
    ).content.decode()
    assert "Liquidation price, long side" in html
    assert "Liquidation price, short side" in html
    assert "None: the grid starts flat" in html


def test_bad_input_lands_on_its_field(account: ExchangeAccount, client_for: Client) -> None:
    html = client_for.get(
        "/bots/new/preview/",
        futures(account, leverage="50", liquidation_stop_distance="80"),
        headers=HTMX,
    ).content.decode()
    assert "Choose a leverage from 1x to 20x" in errors_on(html, "leverage")
    assert "at most 50%" in errors_on(html, "liquidation_stop_distance")
    html = client_for.get(
        "/bots/new/preview/", futures(account, stop_loss_price="51000"), headers=HTMX
    ).content.decode()
    assert "below the lower price" in errors_on(html, "stop_loss_price")
    response = client_for.post("/bots/new/", {**futures(account, leverage="50"), "review": "1"})
    assert response.status_code == 400
    assert not Bot.objects.exists()


def test_review_then_confirm_creates_and_starts_the_futures_bot(
    trader: User, account: ExchangeAccount, client_for: Client
) -> None:
    data = futures(account, mode="short", take_profit_price="48000", liquidation_stop_distance="3")
    review = client_for.post("/bots/new/", {**data, "review": "1"})
    html = review.content.decode()
    assert review.status_code == 200, html[:3000]
    assert "Orders will be placed on your paper account “Paper”" in html
    assert 'name="confirm_liquidation_risk"' not in html
    assert not Bot.objects.exists()

    confirmed = client_for.post("/bots/new/", {**data, "token": token_of(html), "confirm": "1"})
    bot = Bot.objects.get()
    assert confirmed.status_code == 302
    assert confirmed["Location"] == f"/bots/{bot.pk}/"
    assert (bot.owner, bot.exchange_account, bot.strategy, bot.name) == (
        trader,
        account,
        "futures_grid",
        "My BTC futures",
    )
    assert bot.status == BotStatus.STARTING
    assert bot.strategy_config == fg.FuturesGridConfig(
        symbol="BTCUSDT",
        lower_price=D(50000),
        upper_price=D(60000),
        grid_count=5,
        investment=D(1000),
        leverage=D(10),
        mode=fg.Mode.SHORT,
        take_profit_price=D(48000),
        liquidation_stop_distance=D(3),
    )
    again = client_for.post("/bots/new/", {**data, "token": token_of(html), "confirm": "1"})
    assert again["Location"] == f"/bots/{bot.pk}/"
    assert Bot.objects.count() == 1
    detail = client_for.get(f"/bots/{bot.pk}/").content.decode()
    assert "BTCUSDT perpetual · Paper · futures grid, short 10x: 50,000.0\u201360,000.0 in 5 grids" in detail
    assert "My BTC futures" in client_for.get(reverse("home")).content.decode()


def test_a_liquidation_inside_the_range_needs_the_checkbox(
    account: ExchangeAccount, client_for: Client
) -> None:
    data = futures(account, leverage="20")
    preview = client_for.get("/bots/new/preview/", data, headers=HTMX).content.decode()
    assert 'data-testid="liquidation-in-range"' in preview
    html = client_for.post("/bots/new/", {**data, "review": "1"}).content.decode()
    assert "I understand the position would be liquidated at ≈ 52,113.8 USDT, inside my range." in html

    refused = client_for.post("/bots/new/", {**data, "token": token_of(html), "confirm": "1"})
    assert refused.status_code == 400
    page = refused.content.decode()
    assert "The position would be liquidated at about 52,113.8 USDT, inside your range" in errors_on(
        page, "confirm_liquidation_risk"
    )
    assert not Bot.objects.exists()

    confirmed = client_for.post(
        "/bots/new/", {**data, "token": token_of(page), "confirm": "1", "confirm_liquidation_risk": "on"}
    )
    assert confirmed.status_code == 302
    assert Bot.objects.get().status == BotStatus.STARTING


def test_a_second_futures_bot_on_the_same_position_is_refused(
    account: ExchangeAccount, client_for: Client
) -> None:
    data = futures(account)
    html = client_for.post("/bots/new/", {**data, "review": "1"}).content.decode()
    client_for.post("/bots/new/", {**data, "token": token_of(html), "confirm": "1"})
    assert Bot.objects.get().status == BotStatus.STARTING
    response = client_for.post("/bots/new/", {**data, "name": "Another", "review": "1"})
    assert response.status_code == 400
    assert "“My BTC futures” already trades the BTCUSDT perpetual on “Paper”" in errors_on(
        response.content.decode(), "symbol"
    )
    assert Bot.objects.count() == 1


def test_another_users_account_is_never_used(account: ExchangeAccount) -> None:
    stranger = make_user()
    paper_account_for(stranger)
    client = Client()
    client.force_login(stranger)
    response = client.post("/bots/new/", {**futures(account), "review": "1"})
    assert response.status_code == 400
    assert "Select a valid choice" in errors_on(response.content.decode(), "account")
    assert not Bot.objects.exists()


def test_a_futures_bot_is_copied_in_its_own_wizard(account: ExchangeAccount, client_for: Client) -> None:
    data = futures(account, mode="neutral", leverage="4")
    html = client_for.post("/bots/new/", {**data, "review": "1"}).content.decode()
    client_for.post("/bots/new/", {**data, "token": token_of(html), "confirm": "1"})
    bot = Bot.objects.get()
    # At 4x the liquidation is far outside the range: its page asks no consent to start again.
    Bot.objects.filter(pk=bot.pk).update(status=BotStatus.STOPPED)
    assert 'name="confirm_liquidation_risk"' not in client_for.get(f"/bots/{bot.pk}/").content.decode()
    page = client_for.get(f"/bots/new/?clone={bot.pk}").content.decode()
    assert 'value="Copy of My BTC futures"' in page
    assert re.search(r'<option value="neutral" selected>', page)
    assert 'value="4"' in page


def test_the_bots_page_starts_a_risky_grid_only_with_consent(
    trader: User, account: ExchangeAccount, client_for: Client
) -> None:
    created = bearer(trader).post(
        "/api/v1/bots/",
        {**futures(account, leverage="20"), "grid_count": 5, "account": account.pk},
        format="json",
    )
    bot = Bot.objects.get(pk=created.json()["id"])
    page = client_for.get(f"/bots/{bot.pk}/").content.decode()
    assert 'name="confirm_liquidation_risk"' in page
    assert "I accept the risk: The position would be liquidated at about 52,113.8 USDT" in page
    refused = client_for.post(f"/bots/{bot.pk}/start/", follow=True)
    assert "The position would be liquidated at about 52,113.8 USDT" in refused.content.decode()
    bot.refresh_from_db()
    assert bot.status == BotStatus.DRAFT
    client_for.post(f"/bots/{bot.pk}/start/", {"confirm_liquidation_risk": "on"})
    bot.refresh_from_db()
    assert bot.status == BotStatus.STARTING
