"""A price move's wake-ups (bots.tasks.tick_woken_bots): every woken bot's fills are booked, and
so on the trader's screen, before any of them sends a counter-order; each bot still gets its
own tick, lease and schedule, and a failure or a busy bot stays its own."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from bots import engine, tasks
from bots.models import Bot
from bots.tests.test_dispatch_batches import INTERVAL, running_bots
from exchanges.paper import market
from trading.models import Fill, Order, OrderStatus

pytestmark = pytest.mark.django_db

D = Decimal


def woken_by_a_drop(bots: list[Bot], monkeypatch: pytest.MonkeyPatch, capture: Any) -> list[tuple[int, int]]:
    """Drop the price through every bot's 53,000 buy; the wake-ups the move asked for."""
    woken: list[dict[int, int]] = []
    monkeypatch.setattr(tasks, "wake_now", woken.append)
    with capture(execute=True):
        assert market.set_price("BTCUSDT", D("52900"))
    assert [sorted(bots_woken) for bots_woken in woken] == [sorted(bot.pk for bot in bots)]
    return sorted(woken[0].items())


def test_a_moves_wake_ups_are_shared_out_one_message_per_priority_process(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.FILL_WAKE_UP_MESSAGES = 2
    sent: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(
        tasks.tick_woken_bots, "apply_async", lambda args, **options: sent.append((args, options))
    )

    tasks.wake_now({5: 10, 3: 10, 9: 60, 1: 10, 7: 10})

    assert [args for args, _ in sent] == [([(1, 10), (5, 10), (9, 60)],), ([(3, 10), (7, 10)],)]
    assert {options["queue"] for _, options in sent} == {"priority"}

    sent.clear()
    tasks.wake_now({4: 10})
    assert [args for args, _ in sent] == [([(4, 10)],)], "one bot, one message"


def test_every_woken_bot_books_its_fill_before_any_sends_a_counter_order(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    bots = running_bots(3)
    woken = woken_by_a_drop(bots, monkeypatch, django_capture_on_commit_callbacks)
    before = timezone.now()

    tasks.tick_woken_bots(woken)

    ids = [bot.pk for bot in bots]
    booked = list(
        Fill.objects.filter(bot_id__in=ids, recorded_at__gte=before).values_list("recorded_at", flat=True)
    )
    counter_orders = Order.objects.filter(bot_id__in=ids, side="sell", sent_at__gte=before)
    assert len(booked) == 3, "each bot booked its fill"
    assert counter_orders.filter(status=OrderStatus.OPEN).count() == 3, "each bot's counter-order is out"
    first_send = min(order.sent_at for order in counter_orders if order.sent_at is not None)
    assert max(booked) < first_send, "all three booked before the first counter-order went out"
    for bot in Bot.objects.filter(pk__in=ids):
        assert bot.lease_token is None, "each lease released"
        assert bot.next_tick_at is not None
        assert bot.next_tick_at >= before + timedelta(seconds=INTERVAL), "the wake-up was its tick"


def test_a_bot_whose_booking_fails_does_not_hold_up_the_others(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any, caplog: pytest.LogCaptureFixture
) -> None:
    broken, healthy = running_bots(2)
    woken = woken_by_a_drop([broken, healthy], monkeypatch, django_capture_on_commit_callbacks)
    Bot.objects.filter(pk=broken.pk).update(config={"symbol": "BTCUSDT"})  # unreadable: its tick raises

    tasks.tick_woken_bots(woken)

    assert f"The tick of bot {broken.pk} failed." in caplog.text
    assert Bot.objects.get(pk=broken.pk).lease_token is None, "released even though its booking raised"
    assert Fill.objects.filter(bot=healthy, order__side="buy", order__price=D("53000")).exists()
    assert healthy.orders.filter(side="sell", status=OrderStatus.OPEN).count() == 3, (
        "its counter-order is out"
    )
    assert Bot.objects.get(pk=healthy.pk).lease_token is None


def test_a_woken_bot_whose_tick_is_in_flight_tries_again_shortly_and_the_rest_tick(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    busy, free = running_bots(2)
    woken = woken_by_a_drop([busy, free], monkeypatch, django_capture_on_commit_callbacks)
    retries: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(
        tasks.tick_bot, "apply_async", lambda args, kwargs, **options: retries.append((args, kwargs))
    )
    token = engine.claim(busy.pk)  # a routine tick in flight, which may have read the venue already
    assert token is not None

    tasks.tick_woken_bots(woken)

    assert retries == [((busy.pk, 1), {"interval": INTERVAL})]
    assert not Fill.objects.filter(bot=busy, order__price=D("53000")).exists(), "left to its retry"
    assert Fill.objects.filter(bot=free, order__price=D("53000")).exists()
    engine.release(busy.pk, token)


def test_an_orders_only_unique_key_is_its_client_id() -> None:
    """`engine._pend` inserts with ON CONFLICT DO NOTHING, which skips a conflict on any unique
    key: were another added, an order could vanish silently instead of failing loudly."""
    unique = [field.name for field in Order._meta.concrete_fields if field.unique and not field.primary_key]
    assert unique == ["client_order_id"]
    assert not Order._meta.unique_together
    assert not [
        c for c in Order._meta.constraints if getattr(c, "fields", None) or getattr(c, "expressions", None)
    ]
