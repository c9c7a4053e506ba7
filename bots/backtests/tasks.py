"""Backtests on the routine queue: long, but never in a tick's way."""

from __future__ import annotations

from celery import shared_task

from bots.backtests import run


# Acknowledged when done, so a message a dying worker had taken is delivered again. A run may
# outlast the broker's visibility timeout: the copy then handed to another worker finds the row
# claimed and ends at once; a worker lost mid-run is caught by its heartbeat (`requeue_stale`).
@shared_task(ignore_result=True, acks_late=True)
def run_backtest(backtest_id: int) -> None:
    run.run(backtest_id)


@shared_task(ignore_result=True)
def requeue_stale_backtests() -> int:
    requeued = run.requeue_stale()
    for backtest_id in requeued:
        run_backtest.delay(backtest_id)
    return len(requeued)
