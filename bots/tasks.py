"""Celery: one beat-driven dispatcher claims due bots; one task ticks one bot."""

from __future__ import annotations

import time
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from bots import engine
from bots.actions import InvalidTransition, do_auto_restart
from bots.metrics import tick_finished
from bots.models import ACTIVE_STATUSES, Bot, BotStatus

DISPATCH_BATCH = 500
BUSY_RETRY_SECONDS = 0.5
DISPATCH_TIMEOUT = timedelta(seconds=60)


@shared_task(ignore_result=True)
def dispatch_due_bots() -> int:
    """Claim due bots with a conditional update and enqueue one tick each (never a beat entry per bot)."""
    now = timezone.now()
    with transaction.atomic():
        due = list(
            Bot.objects.select_for_update(skip_locked=True)
            .filter(status__in=ACTIVE_STATUSES, next_tick_at__lte=now)
            .order_by("next_tick_at")
            .values_list("id", "tick_interval", "next_tick_at")[:DISPATCH_BATCH]
        )
        # Not due again until its tick runs (which sets the real next tick) or, should the
        # message or its worker be lost, until DISPATCH_TIMEOUT: a queue that falls behind
        # never fills with repeats of the same bots.
        Bot.objects.filter(id__in=[bot_id for bot_id, _, _ in due]).update(
            next_tick_at=now + DISPATCH_TIMEOUT
        )
        # Each tick carries when it fell due, so dispatch lag can be measured where it runs.
        # (next_tick_at__lte matched, so it is never None here.)
        claimed = [
            (bot_id, interval, due_at.timestamp() if due_at else None) for bot_id, interval, due_at in due
        ]
        transaction.on_commit(
            lambda: [
                tick_bot.delay(bot_id, due=due_at, interval=interval) for bot_id, interval, due_at in claimed
            ]
        )
    _restart_due_bots(now)
    return len(claimed)


def _restart_due_bots(now: object) -> None:
    for bot in Bot.objects.filter(status=BotStatus.ERROR, restart_at__lte=now, auto_restart=True):
        try:
            do_auto_restart(bot)
        except InvalidTransition:
            continue


@shared_task(ignore_result=True, acks_late=True)
def tick_bot(bot_id: int, attempt: int = 0, due: float | None = None, interval: int | None = None) -> None:
    """One tick; `interval` comes with a dispatched tick, whose claim then sets the next one."""
    started = time.time()
    ran = engine.run_tick(bot_id, reschedule_in=timedelta(seconds=interval) if interval else None)
    tick_finished.send(
        sender=tick_bot, bot_id=bot_id, ran=ran, started=started, finished=time.time(), due=due
    )
    if not ran and attempt < 20 and Bot.objects.filter(pk=bot_id, status=BotStatus.STOPPING).exists():
        # A stop waits for the tick in flight, then runs at once.
        tick_bot.apply_async(
            (bot_id, attempt + 1), countdown=BUSY_RETRY_SECONDS, queue=settings.CELERY_PRIORITY_QUEUE
        )


def tick_now(bot_id: int) -> None:
    """A tick that must not wait behind routine ones: after a fill, a start or a stop."""
    tick_bot.apply_async((bot_id,), queue=settings.CELERY_PRIORITY_QUEUE)
