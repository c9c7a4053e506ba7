"""The bots API: preview, create, edit, run, stop, records, PnL; scopes and tenant isolation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.tests.api import bearer, error_of
from bots import actions
from bots.models import Bot, BotStatus
from bots.previews import check_preview
from bots.tests.conftest import paper_account_for
from bots.tests.factories import grid_config
from bots.tests.test_engine import started, tick
from exchanges.paper import market
from trading.models import Fill

D = Decimal
CONFIG = {
    "symbol": "BTCUSDT",
    "lower_price": "45000",
    "upper_price": "65000",
    "grid_count": 5,
    "spacing": "arithmetic",
    "direction": "long",
    "investment": "1000",
}


@pytest.fixture
def account(trader):
    market.set_price("BTCUSDT", D("54000"))
    return paper_account_for(trader)


def test_preview_matches_the_wizard_function(trader, account) -> None:
    client = bearer(trader, "read")
    response = client.post(
        "/api/v1/bots/preview/", {**CONFIG, "account": account.pk, "reference_price": "54000"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    expected = check_preview(account, grid_config(), D("54000")).preview
    assert [level["price"] for level in body["levels"]] == [f"{level.price:f}" for level in expected.levels]
    assert [level["side"] for level in body["levels"]] == [
        level.side.value if level.side else None for level in expected.levels
    ]
    assert body["quantity_per_order"] == f"{expected.quantity_per_order:f}"
    assert D(body["profit_per_grid_min"]) == expected.profit_per_grid_min
    assert D(body["min_investment"]) == expected.min_investment
    assert D(body["base_to_buy"]) == expected.base_to_buy
    assert body["warnings"] == list(expected.warnings)
    assert body["reference_price"] == "54000"


def test_preview_errors_name_their_field(trader, account) -> None:
    client = bearer(trader)
    response = client.post(
        "/api/v1/bots/preview/",
        {**CONFIG, "account": account.pk, "lower_price": "70000", "investment": "1"},
        format="json",
    )
    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert "upper_price" in error["fields"]


def test_preview_of_an_unknown_symbol_is_a_400_on_symbol(trader, account) -> None:
    response = bearer(trader).post(
        "/api/v1/bots/preview/", {**CONFIG, "account": account.pk, "symbol": "NOPEUSDT"}, format="json"
    )
    assert response.status_code == 400
    assert "symbol" in error_of(response)["fields"]


def test_create_start_stop_and_pnl(trader, account) -> None:
    client = bearer(trader)
    response = client.post(
        "/api/v1/bots/", {**CONFIG, "account": account.pk, "name": "API grid"}, format="json"
    )
    assert response.status_code == 201, response.content
    bot = Bot.objects.get(pk=response.json()["id"])
    assert bot.status == BotStatus.DRAFT
    assert bot.name == "API grid"
    assert bot.owner == trader

    assert error_of(client.get(f"/api/v1/bots/{bot.pk}/pnl/"))["code"] == "no_pnl_yet"
    response = client.post(f"/api/v1/bots/{bot.pk}/start/")
    assert response.status_code == 200
    assert response.json()["status"] == "starting"
    bot = tick(tick(bot))
    assert bot.status == BotStatus.RUNNING

    market.set_price("BTCUSDT", D("52900"))  # the 53,000 buy fills
    tick(bot)
    pnl = client.get(f"/api/v1/bots/{bot.pk}/pnl/").json()
    assert D(pnl["total_pnl"]) == D(pnl["equity"]) - D(pnl["investment"])
    assert {"grid_profit", "unrealized_pnl", "fees_quote", "round_trips"} <= set(pnl)

    fills = client.get(f"/api/v1/bots/{bot.pk}/fills/?side=buy").json()
    assert fills["results"]
    assert all(f["side"] == "buy" for f in fills["results"])
    assert len(fills["results"]) == Fill.objects.filter(bot=bot, side="buy").count()
    orders = client.get(f"/api/v1/bots/{bot.pk}/orders/?status=open").json()["results"]
    assert orders
    assert all(o["status"] == "open" for o in orders)
    events = client.get(f"/api/v1/bots/{bot.pk}/events/").json()["results"]
    assert events[0]["kind"]

    response = client.post(f"/api/v1/bots/{bot.pk}/stop/", {"sell_base": True}, format="json")
    assert response.status_code == 200
    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPING
    assert bot.sell_base_on_stop


def test_read_token_cannot_trade(trader, account) -> None:
    client = bearer(trader, "read")
    response = client.post("/api/v1/bots/", {**CONFIG, "account": account.pk, "name": "x"}, format="json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "permission_denied"
    assert not Bot.objects.exists()
    assert client.get("/api/v1/bots/").status_code == 200


def test_delete_refuses_an_active_bot(paper_bot) -> None:
    client = bearer(paper_bot.owner)
    bot = started(paper_bot)
    response = client.delete(f"/api/v1/bots/{bot.pk}/")
    assert response.status_code == 409
    assert error_of(response)["code"] == "bot_active"
    assert Bot.objects.filter(pk=bot.pk).exists()


def test_edit_only_while_stopped(paper_bot) -> None:
    client = bearer(paper_bot.owner)
    response = client.patch(f"/api/v1/bots/{paper_bot.pk}/", {"grid_count": 4, "name": "Four"}, format="json")
    assert response.status_code == 200, response.content
    paper_bot.refresh_from_db()
    assert paper_bot.grid_config.grid_count == 4
    assert paper_bot.name == "Four"
    actions.do_start_bot(paper_bot)
    response = client.patch(f"/api/v1/bots/{paper_bot.pk}/", {"grid_count": 6}, format="json")
    assert response.status_code == 409
    paper_bot.refresh_from_db()
    assert paper_bot.grid_config.grid_count == 4
