"""Dispatched ticks travel several bots to a message (bots.tasks.tick_bots); each bot still
gets a tick of its own: its own lease and schedule, and a failure that stays its own."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from accounts.tests.factories import make_user
from bots import actions, engine, tasks
from bots.models import Bot
from bots.tests.conftest import paper_account_for
from bots.tests.factories import grid_config
from bots.tests.test_engine import started
from exchanges.paper import market

INTERVAL = 5


def running_bots(count: int) -> list[Bot]:
    market.set_price("BTCUSDT", Decimal("54000"))
    owner = make_user(email="batches@example.com")
    account = paper_account_for(owner, usdt="100000")
    bots = []
    for n in range(count):
        config = grid_config()
        bot = actions.do_create_bot(
            owner, account, f"Grid {n}", config, actions.check_bot_config(account, config)
        )
        bots.append(started(bot))
    return bots


def make_due(bots: list[Bot]) -> None:
    now = timezone.now()
    for age, bot in enumerate(reversed(bots)):  # the first bot fell due first
        Bot.objects.filter(pk=bot.pk).update(next_tick_at=now - timedelta(seconds=age + 1))


def dispatched(settings: Any) -> list[tuple[Any, ...]]:
    sent: list[tuple[Any, ...]] = []
    original = tasks.tick_bots.apply_async
    tasks.tick_bots.apply_async = lambda args, **options: sent.append(args)  # type: ignore[method-assign,assignment]
    try:
        tasks.dispatch_due_bots()
    finally:
        tasks.tick_bots.apply_async = original  # type: ignore[method-assign]
    return sent


@pytest.mark.django_db
def test_due_bots_go_out_in_messages_of_the_configured_size_earliest_first(settings: Any) -> None:
    settings.BOT_TICKS_PER_MESSAGE = 2
    bots = running_bots(5)
    make_due(bots)

    messages = dispatched(settings)

    assert [[bot_id for bot_id, _, _ in ticks] for ticks, _ in messages] == [
        [bots[0].pk, bots[1].pk],
        [bots[2].pk, bots[3].pk],
        [bots[4].pk],
    ]
    assert len({until for _, until in messages}) == 1, "one dispatch, one mark"
    assert all(interval == INTERVAL for ticks, _ in messages for _, _, interval in ticks)


@pytest.mark.django_db
def test_every_bot_of_a_message_ticks_and_is_scheduled_on_its_own(settings: Any) -> None:
    settings.BOT_TICKS_PER_MESSAGE = 10
    bots = running_bots(3)
    make_due(bots)
    fell_due = dict(Bot.objects.filter(pk__in=[b.pk for b in bots]).values_list("pk", "next_tick_at"))
    [message] = dispatched(settings)

    tasks.tick_bots(*message)

    for bot in Bot.objects.filter(pk__in=[b.pk for b in bots]):
        assert bot.lease_token is None, "each lease released"
        assert bot.next_tick_at is not None
        due = fell_due[bot.pk]
        assert due is not None
        assert abs(bot.next_tick_at - (due + timedelta(seconds=INTERVAL))) < timedelta(milliseconds=1)


@pytest.mark.django_db
def test_a_bot_whose_tick_fails_does_not_hold_up_the_rest_of_its_message(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.BOT_TICKS_PER_MESSAGE = 10
    broken, healthy = running_bots(2)
    Bot.objects.filter(pk=broken.pk).update(config={"symbol": "BTCUSDT"})  # unreadable: the tick raises
    make_due([broken, healthy])
    [message] = dispatched(settings)
    dispatched_until = Bot.objects.get(pk=broken.pk).next_tick_at

    tasks.tick_bots(*message)

    broken.refresh_from_db()
    healthy.refresh_from_db()
    assert f"The tick of bot {broken.pk} failed." in caplog.text
    assert broken.lease_token is None, "released even though the tick raised"
    assert dispatched_until is not None
    assert healthy.next_tick_at is not None
    assert healthy.next_tick_at < dispatched_until, "the healthy bot ticked and was rescheduled"


def test_the_next_tick_falls_due_an_interval_after_this_one_fell_due() -> None:
    now = timezone.now()
    interval = timedelta(seconds=INTERVAL)
    assert engine.next_tick(now, interval, due=now - timedelta(seconds=2)) == now + timedelta(seconds=3)
    assert engine.next_tick(now, interval, due=None) == now + interval
    # So late that the next one would be due already: the rhythm starts afresh, no double tick.
    assert engine.next_tick(now, interval, due=now - timedelta(seconds=6)) == now + interval


@pytest.mark.django_db
def test_a_tick_that_waited_in_the_queue_keeps_the_bots_rhythm(settings: Any) -> None:
    [bot] = running_bots(1)
    fell_due = timezone.now() - timedelta(seconds=2)
    Bot.objects.filter(pk=bot.pk).update(next_tick_at=fell_due)
    [message] = dispatched(settings)

    tasks.tick_bots(*message)

    bot.refresh_from_db()
    assert bot.next_tick_at is not None
    assert abs(bot.next_tick_at - (fell_due + timedelta(seconds=INTERVAL))) < timedelta(milliseconds=1)
