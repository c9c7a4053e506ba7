"""A parameter optimisation on workers: claim, split into chunks, score each chunk, rank at the end.

`begin` claims the row (queued -> running) and writes one chunk row per CHUNK_SIZE candidates;
each chunk is its own task, so every worker free takes one. A chunk stores its scores on its row
once (a conditional update), then moves the count of chunks done under a row lock: the chunk that
completes the count ranks the lot (`finish`), runs the top on the report part and re-checks the
winner with exact mode. A cancel is seen between candidates and ends every chunk without results.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any, TypeVar

from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bots import codec
from bots.backtest import kernel, optimise
from bots.backtest.metrics import metrics
from bots.backtests.actions import instrument_for
from bots.backtests.candles import Window, load
from bots.backtests.live import publish_progress
from bots.backtests.models import BacktestStatus, Optimisation, OptimisationChunk
from bots.backtests.run import STALE_AFTER, metrics_json
from bots.strategies import grid
from exchanges.base import ExchangeError, Instrument

logger = logging.getLogger(__name__)
T = TypeVar("T")

CHUNK_SIZE = 25  # candidates a task scores: small enough to spread, large enough to pay its overhead
CHECK_EVERY = 5  # candidates between looks for a cancel
BEGUN, SCORED = 2, 90  # percent: chunks written, every chunk scored


class Cancelled(Exception):
    pass


# The search as stored ---------------------------------------------------------------------------


def search_to_json(search: optimise.Search) -> dict[str, Any]:
    bounds = search.bounds
    return {
        "config": codec.config_to_json(search.base),
        "bounds": {
            "lower_price": [str(value) for value in bounds.lower_price],
            "upper_price": [str(value) for value in bounds.upper_price],
            "grid_count": list(bounds.grid_count),
            "spacings": [spacing.value for spacing in bounds.spacings],
            "directions": [direction.value for direction in bounds.directions],
        },
        "method": search.method.value,
        "steps": search.steps,
        "runs": search.runs,
        "seed": search.seed,
        "objective": search.objective.value,
        "train_fraction": str(search.train_fraction),
        "top": search.top,
    }


def search_from_json(data: dict[str, Any]) -> optimise.Search:
    bounds = data["bounds"]
    low_price, high_price = (Decimal(value) for value in bounds["lower_price"])
    low_upper, high_upper = (Decimal(value) for value in bounds["upper_price"])
    low_count, high_count = (int(value) for value in bounds["grid_count"])
    return optimise.Search(
        base=codec.config_from_json(data["config"]),
        bounds=optimise.Bounds(
            lower_price=(low_price, high_price),
            upper_price=(low_upper, high_upper),
            grid_count=(low_count, high_count),
            spacings=tuple(grid.Spacing(value) for value in bounds["spacings"]),
            directions=tuple(grid.Direction(value) for value in bounds["directions"]),
        ),
        method=optimise.Method(data["method"]),
        steps=int(data["steps"]),
        runs=int(data["runs"]),
        seed=int(data["seed"]),
        objective=optimise.Objective(data["objective"]),
        train_fraction=Decimal(data["train_fraction"]),
        top=int(data["top"]),
    )


# Running ----------------------------------------------------------------------------------------


def begin(optimisation_id: int) -> list[int]:
    """Claims a queued optimisation and writes its chunks; the chunk indices to enqueue."""
    now = timezone.now()
    claimed = Optimisation.objects.filter(pk=optimisation_id, status=BacktestStatus.QUEUED).update(
        status=BacktestStatus.RUNNING, started_at=now, heartbeat_at=now, progress=0
    )
    if not claimed:
        return []  # already taken, finished or cancelled
    optimisation = Optimisation.objects.get(pk=optimisation_id)
    chunks = _guarded(optimisation, lambda: _write_chunks(optimisation)) or []
    _publish(optimisation)
    return chunks


def _write_chunks(optimisation: Optimisation) -> list[int]:
    search = search_from_json(optimisation.search)
    size = len(optimise.candidates(search, _instrument(optimisation)))
    bounds = [(first, min(first + CHUNK_SIZE, size)) for first in range(0, size, CHUNK_SIZE)]
    with transaction.atomic():
        OptimisationChunk.objects.bulk_create(
            OptimisationChunk(optimisation=optimisation, index=i, first=first, end=end)
            for i, (first, end) in enumerate(bounds)
        )
        _update_running(optimisation, candidates=size, chunks=len(bounds), progress=BEGUN)
    if not bounds:
        raise ValueError("The bounds leave no candidate to try.")
    return list(range(len(bounds)))


def run_chunk(optimisation_id: int, index: int) -> None:
    optimisation = Optimisation.objects.filter(pk=optimisation_id, status=BacktestStatus.RUNNING).first()
    if optimisation is None:
        return  # cancelled, failed or finished
    _guarded(optimisation, lambda: _score_chunk(optimisation, index))


def _score_chunk(optimisation: Optimisation, index: int) -> None:
    chunk = OptimisationChunk.objects.get(optimisation=optimisation, index=index)
    if chunk.done:
        return  # a message delivered twice
    instrument = _instrument(optimisation)
    search = search_from_json(optimisation.search)
    configs = optimise.candidates(search, instrument)
    train, _ = optimise.split(_series(optimisation, instrument), search.train_fraction)
    scores: list[optimise.Score] = []
    skipped = 0
    for position, candidate in enumerate(range(chunk.first, chunk.end)):
        if position % CHECK_EVERY == 0:
            _still_running(optimisation)
        scored = optimise.evaluate(candidate, configs[candidate], instrument, train)
        if scored is None:
            skipped += 1
        else:
            scores.append(scored)
    if _count_chunk(optimisation, chunk, scores, skipped):
        _finish(optimisation, search, instrument)


def _count_chunk(
    optimisation: Optimisation, chunk: OptimisationChunk, scores: list[optimise.Score], skipped: int
) -> bool:
    """Stores the chunk once and counts it; True for the chunk that completes the search."""
    with transaction.atomic():
        locked = (
            Optimisation.objects.select_for_update()
            .filter(pk=optimisation.pk, status=BacktestStatus.RUNNING)
            .first()
        )
        if locked is None:
            raise Cancelled
        stored = OptimisationChunk.objects.filter(pk=chunk.pk, done=False).update(
            done=True, scores=[s.to_json() for s in scores], skipped=skipped
        )
        if not stored:
            return False
        done = locked.chunks_done + 1
        # Counted as chunks end, for the progress bar ("120 of 500 grids"); `_finish` sets the
        # final figures from the stored chunks, which are the same.
        Optimisation.objects.filter(pk=optimisation.pk).update(
            chunks_done=F("chunks_done") + 1,
            evaluated=F("evaluated") + len(scores),
            skipped=F("skipped") + skipped,
            progress=BEGUN + (SCORED - BEGUN) * done // max(locked.chunks, 1),
            heartbeat_at=timezone.now(),
        )
        if done < locked.chunks:
            _publish(optimisation)  # the last chunk's event waits for the ranking
        return done == locked.chunks


def _finish(optimisation: Optimisation, search: optimise.Search, instrument: Instrument) -> None:
    chunks = [
        optimise.ChunkScores(
            tuple(optimise.Score.from_json(s) for s in row.scores or []),
            row.skipped,
        )
        for row in OptimisationChunk.objects.filter(optimisation=optimisation).order_by("index")
    ]
    series = _series(optimisation, instrument)
    configs = optimise.candidates(search, instrument)
    outcome = optimise.finish(search, configs, chunks, instrument, series)
    if not outcome.ranked:
        raise ValueError(
            f"None of the {len(configs):,} candidates is a grid the venue accepts over this window "
            "(each was refused by the grid's checks or ran out of funds): widen the bounds or raise "
            "the investment."
        )
    winner = outcome.ranked[0]
    train, report_part = optimise.split(series, search.train_fraction)
    checked_train = optimise.recheck(winner.config, instrument, train)
    checked_report = optimise.recheck(winner.config, instrument, report_part) if winner.report else None
    results = {
        "ranked": [_ranked_json(r, search.objective) for r in outcome.ranked],
        "winner": {
            "train": metrics_json(metrics(checked_train), checked_train),
            "report": metrics_json(metrics(checked_report), checked_report) if checked_report else None,
            "agrees": checked_train.total_pnl / checked_train.investment == winner.train.total_return,
        },
    }
    with transaction.atomic():
        finished = Optimisation.objects.filter(pk=optimisation.pk, status=BacktestStatus.RUNNING).update(
            status=BacktestStatus.DONE,
            progress=100,
            evaluated=outcome.evaluated,
            skipped=outcome.skipped,
            candles=len(series),
            split_at=series.candle(outcome.split).open_time,
            results=results,
            finished_at=timezone.now(),
            heartbeat_at=timezone.now(),
        )
        if not finished:
            raise Cancelled
        _publish(optimisation)


def _ranked_json(ranked: optimise.Ranked, objective: optimise.Objective) -> dict[str, Any]:
    config = ranked.config
    return {
        "candidate": ranked.index,
        "lower_price": str(config.lower_price),
        "upper_price": str(config.upper_price),
        "grid_count": config.grid_count,
        "spacing": config.spacing.value,
        "direction": config.direction.value,
        "train": _score_json(ranked.train, objective),
        "report": _score_json(ranked.report, objective) if ranked.report else None,
    }


def _score_json(score: optimise.Score, objective: optimise.Objective) -> dict[str, Any]:
    ratio = score.return_over_drawdown
    return {
        "objective": _figure(score.value(objective)),
        "total_return": str(score.total_return),
        "max_drawdown": _figure(score.max_drawdown),
        "return_over_drawdown": _figure(ratio),
        "sharpe": _figure(score.sharpe),
        "grid_profit": str(score.grid_profit),
        "fees": str(score.fees),
        "round_trips": score.round_trips,
        "fills": score.fills,
    }


def _figure(value: float | None) -> str | None:
    """A ratio as a string with ten significant digits; null where it is undefined or unbounded."""
    if value is None or value != value or value in (float("inf"), float("-inf")):
        return None
    return str(Decimal(f"{value:.10g}"))


def requeue_stale(now: datetime | None = None) -> tuple[list[int], list[tuple[int, int]]]:
    """Running optimisations whose workers stopped beating: the ones to begin again (lost before
    their chunks were written) and the chunks to score again (the unfinished ones; a chunk that
    did finish in the meantime is stored once and ignored)."""
    cutoff = (now or timezone.now()) - STALE_AFTER
    stale = Optimisation.objects.filter(status=BacktestStatus.RUNNING, heartbeat_at__lt=cutoff)
    restart, chunks = [], []
    for optimisation_id, chunk_count in stale.values_list("pk", "chunks"):
        mine = Optimisation.objects.filter(
            pk=optimisation_id, status=BacktestStatus.RUNNING, heartbeat_at__lt=cutoff
        )
        if not chunk_count:
            if mine.update(status=BacktestStatus.QUEUED, progress=0):
                restart.append(optimisation_id)
        elif mine.update(heartbeat_at=timezone.now()):
            undone = OptimisationChunk.objects.filter(optimisation_id=optimisation_id, done=False)
            chunks += [(optimisation_id, index) for index in undone.values_list("index", flat=True)]
    return restart, chunks


# Helpers ----------------------------------------------------------------------------------------


def _instrument(optimisation: Optimisation) -> Instrument:
    instrument = instrument_for(optimisation.symbol)
    if instrument is None:
        raise ValueError(f"{optimisation.symbol} can no longer be backtested: its market is unknown.")
    return instrument


def _series(optimisation: Optimisation, instrument: Instrument) -> kernel.CandleArrays:
    return _cached_series(
        optimisation.pk,
        optimisation.venue,
        optimisation.symbol,
        optimisation.interval,
        optimisation.start,
        optimisation.end,
        instrument.tick_size,
    )


# A worker scoring several chunks of one search reads its candles once: the read costs more than
# scoring a chunk. Keyed by the optimisation, so every chunk it scores sees the same series.
@lru_cache(maxsize=2)
def _cached_series(
    optimisation_id: int,
    venue: str,
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime,
    tick: Decimal,
) -> kernel.CandleArrays:
    window = Window.of(interval, start, end)
    candles = load(venue, symbol, window)
    if len(candles) < 2:
        raise ValueError(f"Too few {symbol} {interval} candles are stored in the window.")
    return kernel.CandleArrays.of(candles, tick)


def _still_running(optimisation: Optimisation) -> None:
    if not Optimisation.objects.filter(pk=optimisation.pk, status=BacktestStatus.RUNNING).update(
        heartbeat_at=timezone.now()
    ):
        raise Cancelled


def _update_running(optimisation: Optimisation, **changes: Any) -> None:
    if not Optimisation.objects.filter(pk=optimisation.pk, status=BacktestStatus.RUNNING).update(**changes):
        raise Cancelled


def _guarded(optimisation: Optimisation, work: Callable[[], T]) -> T | None:
    """Runs `work`, storing a failure on the row in the trader's words."""
    try:
        return work()
    except Cancelled:
        return None
    except (ValueError, ExchangeError) as exc:
        _fail(optimisation, str(exc) or type(exc).__name__)
    except Exception:
        logger.exception("Optimisation %s failed", optimisation.pk)
        _fail(
            optimisation,
            "The optimisation stopped on an internal error; it has been logged for the developers.",
        )
    return None


def _fail(optimisation: Optimisation, reason: str) -> None:
    if Optimisation.objects.filter(pk=optimisation.pk, status=BacktestStatus.RUNNING).update(
        status=BacktestStatus.FAILED, error=reason, finished_at=timezone.now()
    ):
        _publish(optimisation)


def _publish(optimisation: Optimisation) -> None:
    publish_progress(optimisation.owner_id, "optimisation", optimisation.pk)
