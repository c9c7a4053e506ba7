"""DCA bots through the API: the preview's safety-order table, creation with the DCA fields
(bad input is a 400 naming the field), reading, editing, and another user's bot is a 404."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots import engine
from bots.models import Bot, BotStatus
from bots.strategies import dca
from bots.tests.conftest import paper_account_for
from exchanges.paper import market
from exchanges.paper.instruments import INSTRUMENTS

D = Decimal
CONFIG = {
    "strategy": "dca",
    "symbol": "BTCUSDT",
    "base_order_size": "100",
    "safety_order_size": "50",
    "price_deviation": "1",
    "step_scale": "2",
    "volume_scale": "1.5",
    "max_safety_orders": 5,
    "max_active_safety_orders": 2,
    "take_profit": "1.5",
}


@pytest.fixture
def account(trader):
    market.set_price("BTCUSDT", D("54000"))
    return paper_account_for(trader)


def test_the_preview_answers_the_safety_order_table(trader, account) -> None:
    response = bearer(trader, "read").post(
        "/api/v1/bots/preview/",
        {**CONFIG, "account": account.pk, "reference_price": "100000"},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["strategy"] == "dca"
    rows = body["safety_orders"]
    assert [row["deviation"] for row in rows] == ["1", "3", "7", "15", "31"]
    assert [row["price"] for row in rows] == ["99000", "97000", "93000", "85000", "69000"]
    assert [row["size"] for row in rows] == [
        "50",
        "75",
        "112.5",
        "168.75",
        "253.12",
    ]  # 253.125, to the cent half-even
    config = dca.config_from_json({k: v for k, v in CONFIG.items() if k != "strategy"})
    expected = dca.preview(config, INSTRUMENTS["BTCUSDT"], D(100000))
    for row, want in zip(rows, expected.safety_orders, strict=True):
        assert D(row["average_price"]) == want.average_price
        assert D(row["take_profit_price"]) == want.take_profit_price
        assert D(row["rebound"]) == want.rebound
        assert D(row["total_size"]) == want.total_size
    assert isinstance(body["max_funds"], str)
    assert D(body["max_funds"]) == D(100) + D(50) * (D("1.5") ** 5 - 1) / D("0.5")
    assert body["lowest_price"] == "69000"
    assert D(body["funds_needed"]["USDT"]) > D(body["max_funds"])  # the base order's slippage room
    assert body["funds_shortfall"] == ""


def test_preview_errors_name_their_field(trader, account) -> None:
    response = bearer(trader).post(
        "/api/v1/bots/preview/",
        {**CONFIG, "account": account.pk, "max_safety_orders": 7, "take_profit": "0"},
        format="json",
    )
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert "max_safety_orders" in fields
    assert "take_profit" in fields


def test_an_unknown_strategy_is_a_400_on_strategy(trader, account) -> None:
    response = bearer(trader).post(
        "/api/v1/bots/preview/", {**CONFIG, "account": account.pk, "strategy": "martingale"}, format="json"
    )
    assert response.status_code == 400
    assert "strategy" in error_of(response)["fields"]


def test_create_a_dca_bot_start_it_and_read_it(trader, account) -> None:
    client = bearer(trader)
    response = client.post(
        "/api/v1/bots/",
        {**CONFIG, "account": account.pk, "name": "BTC DCA", "stop_loss": "20", "max_deals": 3},
        format="json",
    )
    assert response.status_code == 201, response.content
    bot = Bot.objects.get(pk=response.json()["id"])
    assert (bot.strategy, bot.owner, bot.status) == ("dca", trader, BotStatus.DRAFT)
    config = bot.strategy_config
    assert isinstance(config, dca.DcaConfig)
    assert (config.stop_loss, config.max_deals, config.volume_scale) == (D(20), 3, D("1.5"))
    assert bot.config["investment"] == str(dca.max_funds(config))
    body = response.json()
    assert body["strategy"] == "dca"
    assert body["config"]["take_profit"] == "1.5"
    assert body["config"]["max_active_safety_orders"] == 2
    assert body["config"]["base_order_type"] == "market"  # the default

    assert client.post(f"/api/v1/bots/{bot.pk}/start/").status_code == 200
    for _ in range(3):
        engine.run_tick(bot.pk)
    bot.refresh_from_db()
    assert bot.status == BotStatus.RUNNING
    orders = client.get(f"/api/v1/bots/{bot.pk}/orders/?status=open").json()["results"]
    assert len(orders) == 3  # two safety orders and the take-profit
    assert client.get(f"/api/v1/bots/{bot.pk}/").json()["config"]["stop_loss"] == "20"


def test_bad_dca_input_is_a_400_naming_the_field(trader, account) -> None:
    client = bearer(trader)
    cases: dict[str, dict[str, object]] = {
        "price_deviation": {"price_deviation": "abc"},
        "max_safety_orders": {"max_safety_orders": 101},
        "base_order_size": {"base_order_size": "1"},
        "trailing_deviation": {"trailing_deviation": "3"},
        "start_price": {"start_condition": "price"},
        "take_profit_on": {"take_profit_on": "everything"},
        "base_order_type": {"base_order_type": "stop"},
    }
    for field, change in cases.items():
        response = client.post(
            "/api/v1/bots/", {**CONFIG, "account": account.pk, "name": "Bad", **change}, format="json"
        )
        assert response.status_code == 400, (field, response.content)
        assert field in error_of(response)["fields"], (field, error_of(response))
    assert not Bot.objects.exists()


def test_a_dca_bot_the_account_cannot_fund_is_refused(trader, account) -> None:
    response = bearer(trader).post(
        "/api/v1/bots/",
        {**CONFIG, "account": account.pk, "name": "Big", "safety_order_size": "3000"},
        format="json",
    )
    assert response.status_code == 400
    [message] = error_of(response)["fields"]["base_order_size"]
    assert "This DCA bot needs" in message
    assert not Bot.objects.exists()


def test_edit_keeps_the_strategy_and_another_users_bot_is_404(trader, account) -> None:
    client = bearer(trader)
    created = client.post("/api/v1/bots/", {**CONFIG, "account": account.pk, "name": "Mine"}, format="json")
    bot_id = created.json()["id"]
    response = client.patch(f"/api/v1/bots/{bot_id}/", {"take_profit": "2"}, format="json")
    assert response.status_code == 200, response.content
    bot = Bot.objects.get(pk=bot_id)
    assert bot.strategy == "dca"
    assert bot.strategy_config.take_profit == D(2)
    response = client.patch(f"/api/v1/bots/{bot_id}/", {"volume_scale": "-1"}, format="json")
    assert response.status_code == 400
    assert "volume_scale" in error_of(response)["fields"]

    stranger = bearer(make_user(email="stranger@example.com"))
    assert stranger.get(f"/api/v1/bots/{bot_id}/").status_code == 404
    assert stranger.patch(f"/api/v1/bots/{bot_id}/", {"take_profit": "3"}, format="json").status_code == 404
    assert Bot.objects.get(pk=bot_id).strategy_config.take_profit == D(2)


def test_a_limit_base_order_through_the_api(trader, account) -> None:
    client = bearer(trader)
    limit = {**CONFIG, "account": account.pk, "base_order_type": "limit"}
    preview = client.post("/api/v1/bots/preview/", {**limit, "reference_price": "100000"}, format="json")
    assert preview.status_code == 200, preview.content
    body = preview.json()
    # The deal is laid out from the limit's price, a tick under the reference, with no slippage room.
    assert body["reference_price"] == "99999.9"
    assert body["safety_orders"][0]["price"] == str(
        dca.safety_price(dca.config_from_json(limit), INSTRUMENTS["BTCUSDT"], D("99999.9"), 1)
    )
    assert D(body["funds_needed"]["USDT"]) == D(body["max_funds"])

    response = client.post("/api/v1/bots/", {**limit, "name": "Limit DCA"}, format="json")
    assert response.status_code == 201, response.content
    assert response.json()["config"]["base_order_type"] == "limit"
    bot = Bot.objects.get(pk=response.json()["id"])
    assert bot.strategy_config.base_order_type is dca.BaseOrderType.LIMIT
    edited = client.patch(f"/api/v1/bots/{bot.pk}/", {"base_order_type": "market"}, format="json")
    assert edited.status_code == 200, edited.content
    assert client.get(f"/api/v1/bots/{bot.pk}/").json()["config"]["base_order_type"] == "market"
