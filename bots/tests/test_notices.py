"""A paper bot's lifecycle and fills become its owner's notifications, once each, after commit."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from accounts.tests.factories import make_user
from bots import actions, notices
from bots.models import Bot
from bots.strategies import grid
from bots.tests.conftest import grid_config, paper_account_for
from bots.tests.test_engine import started, tick
from exchanges.paper import market
from notifications import preferences, record
from notifications.events import Channel, Kind, Mode
from notifications.models import Notification

D = Decimal


@pytest.fixture(autouse=True)
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    ids: list[int] = []
    monkeypatch.setattr(record, "enqueue", lambda delivery_ids: ids.extend(delivery_ids))
    return ids


def kinds(user: Any) -> list[str]:
    return list(Notification.objects.filter(user=user).order_by("pk").values_list("kind", flat=True))


def test_lifecycle_and_exits_notify_the_owner_once_each(
    paper_bot: Bot, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        bot = started(paper_bot)
        assert not Notification.objects.exists()  # nothing before its commit
    with django_capture_on_commit_callbacks(execute=True):
        actions.do_exit_bot(bot, grid.ExitReason.MAX_DRAWDOWN)
        bot = tick(bot)
        bot = tick(bot)
    assert kinds(bot.owner) == ["bot.started", "bot.stop_loss", "bot.stopped"]
    stop_loss = Notification.objects.get(kind=Kind.BOT_STOP_LOSS)
    assert stop_loss.severity == "critical"
    assert stop_loss.title == "BTC grid: stop-loss or maximum drawdown reached"
    assert stop_loss.body == "BTC grid (BTCUSDT) reached its maximum drawdown and is stopping."
    assert stop_loss.link == f"/bots/{bot.pk}/"
    assert stop_loss.payload["reason"] == "max_drawdown"
    assert {d.channel for d in stop_loss.deliveries.all()} == {Channel.IN_APP, Channel.EMAIL}

    # The same events reported again (a re-run callback) add nothing.
    notices.notify(bot.owner_id, bot.pk, 1, Kind.BOT_STOP_LOSS, {"reason": "max_drawdown"})
    notices.notify(bot.owner_id, bot.pk, 1, Kind.BOT_STARTED, {"status": "running"})
    assert kinds(bot.owner) == ["bot.started", "bot.stop_loss", "bot.stopped"]

    with django_capture_on_commit_callbacks(execute=True):
        actions.do_start_bot(bot)
        actions.do_fail_bot(bot, "API key revoked.")
    error = Notification.objects.get(kind=Kind.BOT_ERROR)
    assert error.body == "BTC grid (BTCUSDT) stopped with an error. API key revoked."
    assert error.payload["run"] == 2


def test_fills_notify_only_a_trader_who_asked_and_only_once_each(
    paper_bot: Bot, django_capture_on_commit_callbacks: Any
) -> None:
    bystander = make_user(email="bystander@example.com")
    market.set_price("BTCUSDT", D("54000"))
    other = actions.do_create_bot(bystander, paper_account_for(bystander), "Other", grid_config(), D("54000"))
    with django_capture_on_commit_callbacks(execute=True):
        bot = started(paper_bot)
        started(other)
    with django_capture_on_commit_callbacks(execute=True):
        market.set_price("BTCUSDT", D("52900"))
        bot = tick(bot)
        tick(other)
    assert Kind.ORDER_FILLED not in kinds(bot.owner)  # fills are off by default

    preferences.set_mode(bot.owner_id, Kind.ORDER_FILLED, Channel.IN_APP, Mode.ON)
    with django_capture_on_commit_callbacks(execute=True):
        market.set_price("BTCUSDT", D("57100"))
        bot = tick(bot)
        tick(other)
    fills = Notification.objects.filter(user=bot.owner, kind=Kind.ORDER_FILLED)
    sells = bot.fills.filter(side="sell")
    assert sells.exists()
    assert fills.count() == sells.count()
    fill = sells.first()
    assert fill is not None
    notification = fills.get(payload__trade_id=fill.trade_id)
    assert notification.title.startswith("BTC grid: sold ")
    assert {d.channel for d in notification.deliveries.all()} == {Channel.IN_APP}
    notices.notify(bot.owner_id, bot.pk, bot.run, Kind.ORDER_FILLED, {"trade_id": fill.trade_id})
    assert fills.count() == sells.count()
    assert not Notification.objects.filter(user=bystander, kind=Kind.ORDER_FILLED).exists()
