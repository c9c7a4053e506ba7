"""Ticks that must not wait travel on the priority queue, on the real Redis broker."""

from __future__ import annotations

import redis
from django.conf import settings

from bots.tasks import dispatch_due_bots, tick_bot, tick_now


def test_wake_ups_and_the_dispatcher_go_before_routine_ticks() -> None:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    broker.delete("priority", "celery")
    try:
        tick_now(42)  # a fill, a start or a stop
        dispatch_due_bots.delay()
        tick_bot.delay(7)  # a routine tick from the dispatcher
        assert broker.llen("priority") == 2
        assert broker.llen("celery") == 1
    finally:
        broker.delete("priority", "celery")
