"""The bots API: preview, create, edit, run, stop, records, PnL; scopes and tenant isolation."""

from __future__ import annotations

from datetime import timedelta
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
    assert [D(level["price"]) for level in body["levels"]] == [level.price for level in expected.levels]
    assert [level["side"] for level in body["levels"]] == [
        level.side.value if level.side else None for level in expected.levels
    ]
    assert D(body["quantity_per_order"]) == expected.quantity_per_order
    assert [D(lv["quantity"]) if lv["quantity"] else None for lv in body["levels"]] == [
        level.quantity for level in expected.levels
    ]
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


OBJECT_CALLS = [
    ("get", "", None),
    ("put", "", {**CONFIG, "account": 1, "name": "x"}),
    ("patch", "", {"name": "x"}),
    ("delete", "", None),
    ("post", "start/", None),
    ("post", "stop/", {"sell_base": False}),
    ("post", "emergency-stop/", None),
    ("get", "orders/", None),
    ("get", "fills/", None),
    ("get", "events/", None),
    ("get", "pnl/", None),
    ("get", "equity/", None),
]


@pytest.mark.parametrize(("method", "suffix", "body"), OBJECT_CALLS)
def test_another_traders_bot_is_404_everywhere(paper_bot, world, method, suffix, body) -> None:
    before = Bot.objects.values().get(pk=paper_bot.pk)
    response = getattr(bearer(world.outsider), method)(
        f"/api/v1/bots/{paper_bot.pk}/{suffix}", body, format="json"
    )
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert Bot.objects.values().get(pk=paper_bot.pk) == before


@pytest.mark.parametrize("bad_id", ["0", "-1", "abc", str(2**70)])
def test_malformed_ids_are_404(paper_bot, bad_id) -> None:
    response = bearer(paper_bot.owner).get(f"/api/v1/bots/{bad_id}/")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"


def test_a_bot_cannot_be_created_on_someone_elses_account(paper_bot, world) -> None:
    response = bearer(world.outsider).post(
        "/api/v1/bots/", {**CONFIG, "account": paper_bot.exchange_account_id, "name": "x"}, format="json"
    )
    assert response.status_code == 404, "another trader's account is not found, as everywhere"
    assert "account" in error_of(response)["fields"]
    assert Bot.objects.count() == 1


def test_lists_show_only_your_own(paper_bot, world) -> None:
    assert bearer(world.outsider).get("/api/v1/bots/").json()["results"] == []
    mine = bearer(paper_bot.owner).get("/api/v1/bots/?status=draft").json()["results"]
    assert [b["id"] for b in mine] == [paper_bot.pk]
    assert bearer(paper_bot.owner).get("/api/v1/bots/?status=running").json()["results"] == []
    assert bearer(paper_bot.owner).get("/api/v1/bots/?status=nope").status_code == 400


def test_emergency_stop_stop_all_and_wrong_transitions(paper_bot) -> None:
    client = bearer(paper_bot.owner)
    response = client.post(f"/api/v1/bots/{paper_bot.pk}/stop/")
    assert response.status_code == 409  # a draft has nothing to stop
    assert error_of(response)["code"] == "invalid_transition"
    bot = started(paper_bot)
    response = client.post(f"/api/v1/bots/{bot.pk}/emergency-stop/")
    assert response.status_code == 200
    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPING
    assert bot.events.filter(message__startswith="Emergency stop").exists()

    other = actions.do_create_bot(bot.owner, bot.exchange_account, "Second", grid_config(), D("54000"))
    started(other)
    response = client.post("/api/v1/bots/stop-all/", {"sell_base": False}, format="json")
    assert response.status_code == 200
    assert response.json() == {"stopped": [other.pk]}
    other.refresh_from_db()
    assert other.status == BotStatus.STOPPING


def test_delete_a_stopped_bot(paper_bot) -> None:
    response = bearer(paper_bot.owner).delete(f"/api/v1/bots/{paper_bot.pk}/")
    assert response.status_code == 204
    assert not Bot.objects.exists()


def test_equity_series_oldest_first(paper_bot) -> None:
    from django.utils import timezone

    from trading.models import EquitySnapshot

    now = timezone.now()
    for minutes, equity in ((2, "1001"), (1, "1002.5")):
        EquitySnapshot.objects.create(
            bot=paper_bot,
            time=now - timedelta(minutes=minutes),
            price=D("54000"),
            equity=D(equity),
            grid_profit=D("0"),
            unrealized_pnl=D(equity) - D(1000),
        )
    series = bearer(paper_bot.owner).get(f"/api/v1/bots/{paper_bot.pk}/equity/").json()["results"]
    assert [point["equity"] for point in series] == ["1001", "1002.5"]


def test_cursor_pages_cover_every_event_once(paper_bot) -> None:
    from bots.models import BotEvent

    for i in range(7):
        BotEvent.objects.create(bot=paper_bot, kind="warning", message=f"note {i}")
    client = bearer(paper_bot.owner)
    seen: list[int] = []
    url: str | None = f"/api/v1/bots/{paper_bot.pk}/events/?limit=3"
    while url:
        page = client.get(url).json()
        seen += [event["id"] for event in page["results"]]
        url = page["next"]
    assert sorted(seen) == sorted(paper_bot.events.values_list("id", flat=True))
    assert len(seen) == len(set(seen)) == 8
