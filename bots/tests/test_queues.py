"""Ticks that must not wait travel on the priority queue, on the real Redis broker."""

from __future__ import annotations

import psycopg
import pytest
import redis
from django.conf import settings
from django.db import connections

from bots.tasks import dispatch_due_bots, tick_bot, tick_now


def test_wake_ups_and_the_dispatcher_go_before_routine_ticks() -> None:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    priority, routine = (settings.REDIS_KEY_PREFIX + queue for queue in ("priority", "celery"))
    broker.delete(priority, routine)
    try:
        tick_now(42)  # a fill, a start or a stop
        dispatch_due_bots.delay()
        tick_bot.delay(7)  # a routine tick from the dispatcher
        assert broker.llen(priority) == 2
        assert broker.llen(routine) == 1
    finally:
        broker.delete(priority, routine)


def _backend_pid() -> int:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return int(cursor.fetchone()[0])


@pytest.mark.django_db(transaction=True)
def test_a_worker_keeps_its_database_connection_from_task_to_task() -> None:
    """Celery's Django fixup would open a new PostgreSQL backend for every tick; ours keeps one."""
    from celery.fixups.django import DjangoWorkerFixup  # type: ignore[attr-defined]
    from celery.signals import task_postrun, task_prerun

    from config.celery import app

    fixup = DjangoWorkerFixup(app)
    assert fixup.db_reuse_max, "settings.CELERY_DB_REUSE_MAX reaches the fixup"

    def run_a_task(fixup: DjangoWorkerFixup) -> None:  # the hooks a worker calls around a task
        task_prerun.send(sender=tick_bot, task_id="t", task=tick_bot)
        fixup.on_task_prerun(tick_bot)
        _backend_pid()
        fixup.on_task_postrun(tick_bot)
        task_postrun.send(sender=tick_bot, task_id="t", task=tick_bot)

    before = _backend_pid()
    for _ in range(3):
        run_a_task(fixup)
    assert _backend_pid() == before

    # A connection that died between tasks (a database restart) is replaced, not reused.
    params = connections["default"].get_connection_params()
    with psycopg.connect(**params, autocommit=True) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [before])
    run_a_task(fixup)
    before = _backend_pid()

    fixup.db_reuse_max = None  # the control: Celery's default closes around every task
    run_a_task(fixup)
    assert _backend_pid() != before
