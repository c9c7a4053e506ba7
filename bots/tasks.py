"""Celery: one beat-driven dispatcher claims due bots and sends their ticks, a batch per message."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

from celery import shared_task
from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from bots import engine
from bots.actions import InvalidTransition, do_auto_restart
from bots.metrics import tick_finished
from bots.models import ACTIVE_STATUSES, Bot, BotStatus
from trading.models import Order

logger = logging.getLogger(__name__)

DISPATCH_BATCH = 500
BUSY_RETRY_SECONDS = 0.5
BUSY_RETRIES = 20
DISPATCH_TIMEOUT = timedelta(seconds=60)


@shared_task(ignore_result=True)
def dispatch_due_bots() -> int:
    """Claim due bots with a conditional update and enqueue their ticks (never a beat entry per bot).

    Each message carries up to BOT_TICKS_PER_MESSAGE bots, each ticked on its own (`tick_bots`):
    Celery's own cost per message (broker round trips, the prefork parent's pipe, tracing) was
    most of a quiet paper tick's CPU, and 1,000 bots every 5 s are 200 ticks a second.
    """
    now = timezone.now()
    claimed = _claim_due(now)
    if claimed:
        # One broker connection for the whole batch; the claim is already committed.
        dispatched_until = (now + DISPATCH_TIMEOUT).isoformat()  # exact, unlike a float
        ticks = [(bot_id, due_at.timestamp(), interval) for bot_id, interval, due_at in claimed]
        size = max(1, settings.BOT_TICKS_PER_MESSAGE)
        with tick_bots.app.producer_or_acquire() as producer:
            for start in range(0, len(ticks), size):
                tick_bots.apply_async((ticks[start : start + size], dispatched_until), producer=producer)
    _restart_due_bots(now)
    return len(claimed)


def _claim_due(now: datetime) -> list[tuple[int, int, datetime]]:
    """Due bots, each pushed out to DISPATCH_TIMEOUT, in one statement: (id, interval, when it fell due).

    Not due again until its tick runs (whose claim sets the real next tick) or, should the
    message or its worker be lost, until DISPATCH_TIMEOUT: a queue that falls behind never
    fills with repeats of the same bots. SKIP LOCKED lets two dispatchers split the work.
    Each tick carries when it fell due, so dispatch lag can be measured where it runs.
    """
    if connection.vendor != "postgresql":
        return _claim_due_portably(now)
    table = Bot._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            WITH due AS (
                SELECT id, tick_interval, next_tick_at FROM {table}
                WHERE status = ANY(%(active)s) AND next_tick_at <= %(now)s
                ORDER BY next_tick_at LIMIT %(batch)s
                FOR UPDATE SKIP LOCKED
            )
            UPDATE {table} SET next_tick_at = %(timeout)s FROM due WHERE {table}.id = due.id
            RETURNING due.id, due.tick_interval, due.next_tick_at
            """,  # noqa: S608 - the table name from the model's meta; values are parameters
            {
                "active": list(ACTIVE_STATUSES),
                "now": now,
                "batch": DISPATCH_BATCH,
                "timeout": now + DISPATCH_TIMEOUT,
            },
        )
        return sorted(cursor.fetchall(), key=lambda row: row[2])


def _claim_due_portably(now: datetime) -> list[tuple[int, int, datetime]]:
    """The same claim through the ORM, for the embedded SQLite shape (one process, no SKIP LOCKED)."""
    with transaction.atomic():
        due = list(
            Bot.objects.select_for_update(skip_locked=True)
            .filter(status__in=ACTIVE_STATUSES, next_tick_at__lte=now)
            .order_by("next_tick_at")
            .values_list("id", "tick_interval", "next_tick_at")[:DISPATCH_BATCH]
        )
        claimed = Bot.objects.filter(id__in=[bot_id for bot_id, _, _ in due])
        claimed.update(next_tick_at=now + DISPATCH_TIMEOUT)
    return [(bot_id, interval, due_at) for bot_id, interval, due_at in due if due_at is not None]


def _restart_due_bots(now: object) -> None:
    for bot in Bot.objects.filter(status=BotStatus.ERROR, restart_at__lte=now, auto_restart=True):
        try:
            do_auto_restart(bot)
        except InvalidTransition:
            continue


@shared_task(ignore_result=True, acks_late=True)
def tick_bots(ticks: Sequence[Sequence[float]], dispatched_until: str) -> None:
    """Dispatched ticks, `(bot_id, due, interval)` each, one bot after another.

    Each is the tick `tick_bot` runs: its own lease, transactions and checks. One bot's
    failure is logged and the others still tick; the failed one is due again at the
    dispatcher's timeout, as when its own message failed.
    """
    for bot_id, due, interval in ticks:
        with _logged_failure(int(bot_id)):
            _tick_one(int(bot_id), due=due, interval=int(interval), dispatched_until=dispatched_until)


@shared_task(ignore_result=True, acks_late=True)
def tick_bot(
    bot_id: int,
    attempt: int = 0,
    due: float | None = None,
    interval: int | None = None,
    dispatched_until: str | None = None,
) -> None:
    """One tick: a wake-up (after a fill, a start or a stop) or a stop's retry."""
    _tick_one(bot_id, attempt=attempt, due=due, interval=interval, dispatched_until=dispatched_until)


def _tick_one(
    bot_id: int,
    *,
    attempt: int = 0,
    due: float | None = None,
    interval: int | None = None,
    dispatched_until: str | None = None,
) -> None:
    """`interval` comes with a dispatched tick, whose claim then sets the next one.

    `dispatched_until` (ISO time) marks which dispatch sent it: a superseded message does not tick.
    """
    started = time.time()
    ran = engine.run_tick(
        bot_id,
        reschedule_in=timedelta(seconds=interval) if interval else None,
        dispatched_until=datetime.fromisoformat(dispatched_until) if dispatched_until else None,
        due=datetime.fromtimestamp(due, UTC) if due is not None else None,
    )
    tick_finished.send(
        sender=tick_bot, bot_id=bot_id, ran=ran, started=started, finished=time.time(), due=due
    )
    if not ran and attempt < BUSY_RETRIES and _waits_for_tick_in_flight(bot_id, interval, dispatched_until):
        _retry_when_free(bot_id, interval, attempt=attempt + 1)


@shared_task(ignore_result=True, acks_late=True)
def tick_woken_bots(woken: Sequence[Sequence[int]]) -> None:
    """Wake-ups after one price move, `(bot_id, interval)` each: every bot's fills are booked,
    and so reach the trader's screen, before any bot of the batch sends its counter-orders.

    Each bot's tick runs exactly as `tick_bot`'s wake-up does (its own claim, lease and
    transactions), only in two steps. The last counter-order goes out when it would have with
    one message per bot; the bookings before it no longer wait behind the other bots' sends.
    """
    booked: list[tuple[engine.StagedTick, float]] = []
    for bot_id, interval in woken:
        started = time.time()
        with _logged_failure(bot_id):
            tick = engine.begin_tick(bot_id, reschedule_in=timedelta(seconds=interval), woken_by_fill=True)
            if tick is None:
                _woke_busy(bot_id, interval, started)
                continue
            tick.book()
            booked.append((tick, started))
    for tick, started in booked:
        with _logged_failure(tick.bot_id):
            tick.finish()
        # A booked tick's time includes its wait while the batch's other bots booked.
        tick_finished.send(
            sender=tick_bot, bot_id=tick.bot_id, ran=True, started=started, finished=time.time(), due=None
        )


@contextmanager
def _logged_failure(bot_id: int) -> Iterator[None]:
    """One bot's failure is logged and the batch goes on, on a working connection."""
    try:
        yield
    except Exception:
        logger.exception("The tick of bot %s failed.", bot_id)
        if connection.errors_occurred and not connection.is_usable():
            connection.close()  # broken: the next bot of the batch opens a new one


def _woke_busy(bot_id: int, interval: int, started: float) -> None:
    tick_finished.send(
        sender=tick_bot, bot_id=bot_id, ran=False, started=started, finished=time.time(), due=None
    )
    if _waits_for_tick_in_flight(bot_id, interval, None):
        _retry_when_free(bot_id, interval, attempt=1)


def _retry_when_free(bot_id: int, interval: int | None, *, attempt: int) -> None:
    tick_bot.apply_async(
        (bot_id, attempt),
        {"interval": interval},
        countdown=BUSY_RETRY_SECONDS,
        queue=settings.CELERY_PRIORITY_QUEUE,
    )


def _waits_for_tick_in_flight(bot_id: int, interval: int | None, dispatched_until: str | None) -> bool:
    """A stop, and a fill's wake-up, wait for the tick in flight and then run at once: the tick
    in flight may have read the venue before the fill. (A dispatched tick that finds the lease
    taken leaves the bot due instead: engine.claim_and_load.)"""
    if dispatched_until is not None:
        return False
    statuses = ACTIVE_STATUSES if interval else (BotStatus.STOPPING,)
    return Bot.objects.filter(pk=bot_id, status__in=statuses).exists()


@shared_task(ignore_result=True, acks_late=True)
def stop_bot_now(bot_id: int) -> None:
    """A stop: cancels sent at once on a fail-fast client, never behind a tick's backoff
    (engine.stop_now). When every cancel was answered, the stop's tick follows at once, waiting
    only for a tick in flight."""
    if engine.stop_now(bot_id):
        _tick_one(bot_id)


def stop_now(bot_id: int) -> None:
    stop_bot_now.apply_async((bot_id,), queue=settings.CELERY_PRIORITY_QUEUE)


@shared_task(ignore_result=True)
def settle_unconfirmed_cancels() -> int:
    """Beat: ask the venue again about every cancel a stop could not confirm; how many remain."""
    bot_ids = (
        Order.objects.filter(cancel_unconfirmed_since__isnull=False)
        .values_list("bot_id", flat=True)
        .distinct()
    )
    remaining = 0
    for bot_id in list(bot_ids):
        with _logged_failure(bot_id):
            remaining += engine.settle_unconfirmed(bot_id)
    return remaining


def tick_now(bot_id: int, *, interval: int | None = None) -> None:
    """A tick that must not wait behind routine ones: after a fill, a start or a stop. With
    `interval` it is also the bot's scheduled tick: its claim sets the next one."""
    tick_bot.apply_async((bot_id,), {"interval": interval}, queue=settings.CELERY_PRIORITY_QUEUE)


def wake_now(woken: dict[int, int]) -> None:
    """Wake-ups for the bots one price move filled, `{bot_id: interval}`, each also the bot's
    scheduled tick, in FILL_WAKE_UP_MESSAGES messages so that every priority process takes a
    share (a bot's share is fixed by its place in the list, not by which process is free)."""
    entries = sorted(woken.items())
    messages = max(1, min(settings.FILL_WAKE_UP_MESSAGES, len(entries)))
    with tick_woken_bots.app.producer_or_acquire() as producer:
        for share in range(messages):
            tick_woken_bots.apply_async(
                (entries[share::messages],), queue=settings.CELERY_PRIORITY_QUEUE, producer=producer
            )
