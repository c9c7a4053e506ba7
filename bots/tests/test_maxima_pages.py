"""A grid too big for the venue's per-order maxima: refused by the wizard, the API and the engine."""

from __future__ import annotations

import html as html_lib
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots import actions
from bots.models import Bot, BotStatus
from bots.tests.conftest import paper_account_for
from bots.tests.factories import grid_config
from bots.tests.test_engine import tick
from bots.tests.test_wizard import HTMX, errors_on, worked_example
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper import market
from exchanges.simulator.server import running_simulator
from exchanges.tests.factories import API_KEY, API_SECRET

D = Decimal
RICH = "999999999"
LIMIT_MESSAGE = "above Paper trading's maximum of 83 BTC per limit order: lower the investment to at most "
MARKET_MESSAGE = (
    "above Paper trading's maximum of 41.5 BTC per market order: lower the investment to at most "
)
API_CONFIG = {"symbol": "BTCUSDT", "lower_price": "45000", "upper_price": "65000", "grid_count": 5}


@pytest.fixture
def account(trader: User) -> ExchangeAccount:
    market.set_price("BTCUSDT", D("54000"))
    return paper_account_for(trader)


@pytest.fixture
def client_for(trader: User) -> Client:
    client = Client()
    client.force_login(trader)
    return client


def page_text(response: Any) -> str:
    return html_lib.unescape(response.content.decode())


# The wizard ------------------------------------------------------------------------


def test_the_wizard_shows_the_maxima_beside_the_minimums(
    account: ExchangeAccount, client_for: Client
) -> None:
    html = client_for.get("/bots/new/").content.decode()
    assert 'data-testid="max-limit-quantity">83 BTC<' in html
    assert 'data-testid="max-market-quantity">41.5 BTC<' in html
    assert 'data-testid="max-amount">8,000,000 USDT<' in html


def test_the_wizard_names_both_maxima_on_the_investment(account: ExchangeAccount, client_for: Client) -> None:
    data = worked_example(account, investment=RICH)
    response = client_for.post("/bots/new/", data)
    assert response.status_code == 400
    errors = html_lib.unescape(errors_on(response.content.decode(), "investment"))
    assert "Each order would be 3,919.905937 BTC" in errors
    assert LIMIT_MESSAGE in errors
    assert "The start would buy 7,847.659534 BTC at market" in errors
    assert MARKET_MESSAGE in errors
    assert "Create and start" not in page_text(response)
    live = page_text(client_for.get("/bots/new/preview/", data, headers=HTMX))
    assert LIMIT_MESSAGE in live
    assert MARKET_MESSAGE in live
    assert Bot.objects.count() == 0


# The API ---------------------------------------------------------------------------


def test_the_api_preview_is_a_400_on_the_investment(trader: User, account: ExchangeAccount) -> None:
    response = bearer(trader, "read").post(
        "/api/v1/bots/preview/", {**API_CONFIG, "account": account.pk, "investment": RICH}, format="json"
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    [limit, start] = error["fields"]["investment"]
    assert limit.startswith("Each order would be 3,919.905937 BTC, " + LIMIT_MESSAGE)
    assert start.startswith("The start would buy ")
    assert MARKET_MESSAGE in start


def test_the_api_creates_nothing_too_big_for_the_venue(trader: User, account: ExchangeAccount) -> None:
    response = bearer(trader).post(
        "/api/v1/bots/",
        {**API_CONFIG, "account": account.pk, "name": "Whale", "investment": RICH},
        format="json",
    )
    assert response.status_code == 400
    assert LIMIT_MESSAGE in error_of(response)["fields"]["investment"][0]
    assert Bot.objects.count() == 0


# The engine ------------------------------------------------------------------------


def test_the_engine_refuses_a_start_trade_above_the_market_maximum(trader: User) -> None:
    # Created above its range the grid is all buys (37.7 BTC each, within 83); below the range
    # every level is a sell, and the start would have to buy all of them at market.
    market.set_price("BTCUSDT", D("70000"))
    account = paper_account_for(trader, usdt="20000000")
    config = grid_config(investment=D("10000000"))
    bot = actions.do_create_bot(trader, account, "Whale", config, actions.check_bot_config(account, config))
    market.set_price("BTCUSDT", D("44000"))
    actions.do_start_bot(bot)
    bot = tick(bot)
    assert bot.status == BotStatus.ERROR
    assert "The grid no longer fits the market: The start would buy " in bot.status_reason
    assert MARKET_MESSAGE in bot.status_reason
    assert not bot.orders.exists(), "nothing was sent to the venue"


# Bybit through pybit ---------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_bybit_account_on_the_simulator_is_held_to_bybits_maxima() -> None:
    trader = make_user(email="whale@example.com")
    market.set_price("BTCUSDT", D("54000"))
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
        data = worked_example(account, investment=RICH)
        response = client.get("/bots/new/preview/", data, headers=HTMX)
    live = page_text(response)
    assert "Each order would be 3,919.905937 BTC, above Bybit's maximum of 83 BTC per limit order" in live
    assert "above Bybit's maximum of 41.5 BTC per market order" in live
