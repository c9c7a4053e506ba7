"""Backtests on the routine queue: long, but never in a tick's way."""

from __future__ import annotations

from celery import shared_task

from bots.backtests import run


# Acknowledged on receipt: a run outlasts the broker's visibility timeout and would otherwise be
# handed to a second worker; a worker lost mid-run is caught by its heartbeat instead.
@shared_task(ignore_result=True, acks_late=False)
def run_backtest(backtest_id: int) -> None:
    run.run(backtest_id)


@shared_task(ignore_result=True)
def requeue_stale_backtests() -> int:
    requeued = run.requeue_stale()
    for backtest_id in requeued:
        run_backtest.delay(backtest_id)
    return len(requeued)
