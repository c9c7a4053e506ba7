"""The wizard, its review and the API state the real outcome at each bound and at the stop-loss."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import User
from accounts.tests.api import bearer
from bots.strategies import grid
from bots.tests.conftest import paper_account_for
from bots.tests.factories import grid_config
from bots.tests.test_wizard import HTMX, worked_example
from exchanges.models import ExchangeAccount
from exchanges.paper import market
from exchanges.paper.instruments import instrument_for
from trading.templatetags.money import format_amount

D = Decimal
BTC = instrument_for("BTCUSDT")
BELOW = D("40000")  # under the worked example's 45,000-65,000 range


@pytest.fixture
def account(trader: User) -> ExchangeAccount:
    market.set_price("BTCUSDT", BELOW)
    return paper_account_for(trader)


def figure(html: str, key: str) -> str:
    found = re.search(rf'data-testid="{key}">(.*?)</dd>', html, re.S)
    assert found, f"no {key}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def signed(value: Decimal) -> str:
    return format_amount(value, "0.01", signed=True)


def test_below_the_range_the_preview_shows_the_gain_at_each_bound_and_the_loss_at_the_stop(
    account: ExchangeAccount, trader: User
) -> None:
    client = Client()
    client.force_login(trader)
    data = worked_example(account, stop_loss_price="30000")
    html = client.get("/bots/new/preview/", data, headers=HTMX).content.decode()
    outcome = grid.risk(grid_config(stop_loss_price=D("30000")), BTC, BELOW)
    assert outcome.pnl_at_lower > 0 > (outcome.pnl_at_stop or 0)
    assert signed(outcome.pnl_at_lower) + " USDT" in figure(html, "pnl-at-lower")
    assert signed(outcome.pnl_at_upper) + " USDT" in figure(html, "pnl-at-upper")
    assert signed(outcome.pnl_at_stop or D(0)) + " USDT" in figure(html, "pnl-at-stop")
    assert "at market now" in html
    confirm = client.post("/bots/new/", data).content.decode()
    assert signed(outcome.pnl_at_stop or D(0)) + " USDT" in figure(confirm, "confirm-pnl-at-stop")


def test_the_api_preview_gives_the_pnl_at_each_bound_and_the_stop(
    account: ExchangeAccount, trader: User
) -> None:
    config = {
        "account": account.pk,
        "symbol": "BTCUSDT",
        "lower_price": "45000",
        "upper_price": "65000",
        "grid_count": 5,
        "investment": "1000",
    }
    body = bearer(trader, "read").post("/api/v1/bots/preview/", config, format="json").json()
    outcome = grid.risk(grid_config(), BTC, BELOW)
    assert D(body["pnl_at_lower"]) == outcome.pnl_at_lower
    assert D(body["pnl_at_upper"]) == outcome.pnl_at_upper
    assert body["pnl_at_stop"] is None
    stopped = {**config, "stop_loss_price": "30000", "stop_loss_action": "keep_base"}
    body = bearer(trader, "read").post("/api/v1/bots/preview/", stopped, format="json").json()
    kept = grid.risk(
        grid_config(stop_loss_price=D("30000"), stop_loss_action=grid.ExitAction.KEEP_BASE), BTC, BELOW
    )
    assert D(body["pnl_at_stop"]) == kept.pnl_at_stop
