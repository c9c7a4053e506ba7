"""A grid the account cannot fund is refused before it exists: preview, review, confirm and API."""

from __future__ import annotations

import re
from decimal import ROUND_DOWN, Decimal

import pytest
from django.test import Client

from accounts.models import User
from accounts.tests.api import bearer, error_of
from bots import actions, funds
from bots.models import Bot, BotStatus
from bots.strategies import grid
from bots.tests.conftest import paper_account_for
from bots.tests.factories import grid_config
from bots.tests.test_engine import tick
from bots.tests.test_wizard import HTMX, review, worked_example
from exchanges.base import ExchangeUnavailable
from exchanges.models import ExchangeAccount
from exchanges.paper import market
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.instruments import instrument_for
from exchanges.paper.models import PaperBalance

D = Decimal
BTC = instrument_for("BTCUSDT")
PRICE = D("54000")
HUGE = "1000000"  # far more than the account holds, within the venue's per-order maxima


@pytest.fixture
def account(trader: User) -> ExchangeAccount:
    market.set_price("BTCUSDT", PRICE)
    return paper_account_for(trader, usdt="5000")


@pytest.fixture
def client_for(trader: User) -> Client:
    client = Client()
    client.force_login(trader)
    return client


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


# The amounts ---------------------------------------------------------------------


def test_a_long_grid_needs_its_buys_and_the_start_purchase_with_room_for_slippage() -> None:
    config = grid_config()
    sizing = grid.size_grid(config, BTC, PRICE, grid.quantity_for_investment(config, BTC, PRICE))
    needed = grid.funds_needed(config, BTC, PRICE)
    assert needed == {
        "USDT": sizing.quote_for_buys + sizing.base_to_buy * PRICE * (1 + grid.START_SLIPPAGE_ALLOWANCE),
        "BTC": D(0),
    }
    assert sizing.investment_used < needed["USDT"] < D("1010")


def test_a_reverse_grid_needs_base() -> None:
    config = grid_config(direction=grid.Direction.SHORT)
    sizing = grid.size_grid(config, BTC, PRICE, grid.quantity_for_investment(config, BTC, PRICE))
    assert grid.funds_needed(config, BTC, PRICE) == {
        "USDT": D(0),
        "BTC": sizing.base_for_sells + sizing.base_to_sell,
    }


def test_the_shortfall_names_each_asset_missing() -> None:
    needed = {"USDT": D("1000"), "BTC": D("0.5")}
    assert grid.funds_shortfall(needed, {"USDT": D("1000"), "BTC": D("0.5")}) == ()
    short = grid.funds_shortfall(needed, {"USDT": D("400")})
    assert short == (grid.Shortfall("USDT", D("1000"), D("400")), grid.Shortfall("BTC", D("0.5"), D(0)))
    assert short[0].missing == D("600")
    assert grid.funds_shortfall({"USDT": D(0)}, {}) == ()


def test_the_engine_refuses_to_start_with_the_same_words(trader: User) -> None:
    market.set_price("BTCUSDT", PRICE)
    account = paper_account_for(trader, usdt="100")
    bot = actions.do_create_bot(trader, account, "Too big", grid_config(), PRICE)
    actions.do_start_bot(bot)
    bot = tick(bot)
    assert bot.status == BotStatus.ERROR
    needed = grid.funds_needed(grid_config(), BTC, PRICE)
    expected = funds.shortfall_message(grid.funds_shortfall(needed, {"USDT": D("100")}), BTC)
    assert expected in bot.status_reason
    assert "100.00 USDT available" in bot.status_reason


# The wizard ------------------------------------------------------------------------


def test_the_preview_shows_the_balances_and_warns_when_the_investment_exceeds_them(
    account: ExchangeAccount, client_for: Client
) -> None:
    page = text(client_for.get("/bots/new/preview/", worked_example(account), headers=HTMX).content.decode())
    assert "Available on Paper: 5,000.00 USDT · 0.000000 BTC" in page
    assert "Lower the investment" not in page
    huge = client_for.get("/bots/new/preview/", worked_example(account, investment=HUGE), headers=HTMX)
    page = text(huge.content.decode())
    assert "This grid needs 1,00" in page
    assert "“Paper” has 5,000.00 USDT available" in page
    assert "Lower the investment or add funds to the account." in page


def test_the_review_refuses_a_grid_the_account_cannot_fund(
    account: ExchangeAccount, client_for: Client
) -> None:
    response = client_for.post("/bots/new/", worked_example(account, investment=HUGE))
    assert response.status_code == 400
    page = text(response.content.decode())
    assert "“Paper” has 5,000.00 USDT available" in page
    assert "Create and start" not in page
    assert Bot.objects.count() == 0


def test_the_confirmation_rechecks_the_funds(account: ExchangeAccount, client_for: Client) -> None:
    token = review(client_for, worked_example(account))
    PaperBalance.objects.filter(account=account.paper_account, asset="USDT").update(free=D("50"))
    response = client_for.post("/bots/new/", {"confirm": "1", "token": token, **worked_example(account)})
    assert response.status_code == 400
    assert "“Paper” has 50.00 USDT available" in text(response.content.decode())
    assert Bot.objects.count() == 0


# The API ---------------------------------------------------------------------------


API_CONFIG = {
    "symbol": "BTCUSDT",
    "lower_price": "45000",
    "upper_price": "65000",
    "grid_count": 5,
    "investment": "1000",
}


def test_the_api_preview_includes_the_funds_needed_and_available(
    trader: User, account: ExchangeAccount
) -> None:
    response = bearer(trader, "read").post(
        "/api/v1/bots/preview/",
        {**API_CONFIG, "account": account.pk, "reference_price": "54000"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    needed = grid.funds_needed(grid_config(), BTC, PRICE)
    assert {asset: D(value) for asset, value in body["funds_needed"].items()} == needed
    assert D(body["funds_available"]["USDT"]) == D("5000")
    assert body["funds_shortfall"] == ""
    short = bearer(trader, "read").post(
        "/api/v1/bots/preview/", {**API_CONFIG, "account": account.pk, "investment": HUGE}, format="json"
    )
    assert short.status_code == 200
    assert "5,000.00 USDT available" in short.json()["funds_shortfall"]
    assert short.json()["funds_shortfall"] in short.json()["warnings"]


def test_the_api_refuses_to_create_a_grid_the_account_cannot_fund(
    trader: User, account: ExchangeAccount
) -> None:
    response = bearer(trader).post(
        "/api/v1/bots/",
        {**API_CONFIG, "account": account.pk, "name": "Big", "investment": HUGE},
        format="json",
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert "“Paper” has 5,000.00 USDT available" in error["fields"]["investment"][0]
    assert Bot.objects.count() == 0


def test_unknown_balances_warn_but_do_not_block_the_review(
    account: ExchangeAccount, client_for: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_answer(self: PaperExchange) -> dict[str, object]:
        raise ExchangeUnavailable("timed out")

    monkeypatch.setattr(PaperExchange, "balances", no_answer)
    preview = text(
        client_for.get("/bots/new/preview/", worked_example(account), headers=HTMX).content.decode()
    )
    assert "Balances unknown: Paper trading did not answer within 3 seconds." in preview
    response = client_for.post("/bots/new/", worked_example(account))
    assert response.status_code == 200
    page = text(response.content.decode())
    assert "Your balances are unknown: Paper trading did not answer within 3 seconds." in page
    assert "Create and start" in page


def test_the_api_preview_says_why_the_balances_are_unknown(
    trader: User, account: ExchangeAccount, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_answer(self: PaperExchange) -> dict[str, object]:
        raise ExchangeUnavailable("timed out")

    monkeypatch.setattr(PaperExchange, "balances", no_answer)
    response = bearer(trader, "read").post(
        "/api/v1/bots/preview/", {**API_CONFIG, "account": account.pk, "investment": HUGE}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["funds_available"] is None
    assert body["funds_unknown_reason"] == "Paper trading did not answer within 3 seconds."
    assert body["funds_shortfall"] == ""
    assert D(body["funds_needed"]["USDT"]) > D(HUGE)


def test_amounts_are_rounded_against_the_trader() -> None:
    """What is free rounds down and what is needed rounds up: the page never promises a cent the
    account does not hold, nor asks for less than the grid needs."""
    btc = instrument_for("BTCUSDT")
    shortfall = grid.Shortfall("USDT", needed=D("50130.201"), available=D("7999.6691113"))
    message = funds.shortfall_message([shortfall], btc, "Paper demo")
    assert "needs 50,130.21 USDT free" in message
    assert "has 7,999.66 USDT available" in message
    assert "(42,130.54 USDT short)" in message
    free = {"USDT": D("7999.6691113"), "BTC": D("0.0000009")}
    assert funds.amounts_text(free, btc, ROUND_DOWN) == "7,999.66 USDT · 0.000000 BTC"
