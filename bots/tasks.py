"""Celery: one beat-driven dispatcher claims due bots; one task ticks one bot."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from bots import engine
from bots.actions import InvalidTransition, do_auto_restart
from bots.models import ACTIVE_STATUSES, Bot, BotStatus

DISPATCH_BATCH = 500
BUSY_RETRY_SECONDS = 0.5


@shared_task(ignore_result=True)
def dispatch_due_bots() -> int:
    """Claim due bots with a conditional update and enqueue one tick each (never a beat entry per bot)."""
    now = timezone.now()
    with transaction.atomic():
        due = list(
            Bot.objects.select_for_update(skip_locked=True)
            .filter(status__in=ACTIVE_STATUSES, next_tick_at__lte=now)
            .order_by("next_tick_at")
            .values_list("id", "tick_interval")[:DISPATCH_BATCH]
        )
        for interval in {tick_interval for _, tick_interval in due}:
            ids = [bot_id for bot_id, tick_interval in due if tick_interval == interval]
            Bot.objects.filter(id__in=ids).update(next_tick_at=now + timedelta(seconds=interval))
        bot_ids = [bot_id for bot_id, _ in due]
        transaction.on_commit(lambda: [tick_bot.delay(bot_id) for bot_id in bot_ids])
    _restart_due_bots(now)
    return len(bot_ids)


def _restart_due_bots(now: object) -> None:
    for bot in Bot.objects.filter(status=BotStatus.ERROR, restart_at__lte=now, auto_restart=True):
        try:
            do_auto_restart(bot)
        except InvalidTransition:
            continue


@shared_task(ignore_result=True, acks_late=True)
def tick_bot(bot_id: int, attempt: int = 0) -> None:
    ran = engine.run_tick(bot_id)
    if not ran and attempt < 20 and Bot.objects.filter(pk=bot_id, status=BotStatus.STOPPING).exists():
        # A stop waits for the tick in flight, then runs at once.
        tick_bot.apply_async((bot_id, attempt + 1), countdown=BUSY_RETRY_SECONDS)
