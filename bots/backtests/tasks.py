"""Backtests on the routine queue: long, but never in a tick's way."""

from __future__ import annotations

from celery import shared_task

from bots.backtests import optimise_run, run


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
    restart, chunks = optimise_run.requeue_stale()
    for optimisation_id in restart:
        optimise_backtest.delay(optimisation_id)
    for optimisation_id, index in chunks:
        optimise_backtest_chunk.delay(optimisation_id, index)
    return len(requeued) + len(restart) + len(chunks)


# A parameter optimisation fans out into one task per chunk of candidates: more workers, sooner.
@shared_task(ignore_result=True, acks_late=True)
def optimise_backtest(optimisation_id: int) -> None:
    for index in optimise_run.begin(optimisation_id):
        optimise_backtest_chunk.delay(optimisation_id, index)


@shared_task(ignore_result=True, acks_late=True)
def optimise_backtest_chunk(optimisation_id: int, index: int) -> None:
    optimise_run.run_chunk(optimisation_id, index)
