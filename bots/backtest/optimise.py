"""Parameter optimisation: many grids over one series on the kernel, ranked, then checked out of sample.

A search varies the range (lower and upper price), the grid count, the spacing and the direction
within the trader's bounds; everything else (symbol, investment, trigger) is the base config's.
- `grid` tries `steps` evenly spaced values of each bound (prices on the tick, counts whole) in
  every combination; `random` draws `runs` candidates from a seeded generator, so a search is
  repeatable.
- Each candidate passes the grid's own validation (`grid.validate`) at the window's first price,
  or is skipped and counted; one the kernel cannot run (it runs out of quote, or overflows) too.
- Walk-forward: candidates are scored on the first `train_fraction` of the candles only and
  ranked by the objective; the top `top` then run afresh on the rest (the report part), which
  shows how the choice held up on candles it never saw. The report part never changes the order.
- Objectives: total return, return over max drawdown (a run that never fell ranks above every
  one that did, if it gained), and the daily Sharpe ratio (as `bots.backtest.metrics`). The
  kernel's equity is in floats; the return is exact.

Scoring is split into chunks of candidate indices (`score_chunk`) that any worker can run; the
ranking breaks ties by index, so merging chunks gives the same order as one pass.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum
from typing import Any

import numpy as np

from bots.backtest import exact, kernel
from bots.backtest.kernel import CandleArrays, Floats, KernelResult
from bots.backtest.metrics import MIN_DAILY_DEVIATION
from bots.backtest.venue import Fees
from bots.strategies import grid
from exchanges.base import ExchangeError, Instrument

DAY_MS = 86_400_000
DAYS_PER_YEAR = 365
MIN_DEVIATION = float(MIN_DAILY_DEVIATION)


class Method(StrEnum):
    GRID = "grid"
    RANDOM = "random"


class Objective(StrEnum):
    TOTAL_RETURN = "total_return"
    RETURN_OVER_DRAWDOWN = "return_over_drawdown"
    SHARPE = "sharpe"


@dataclass(frozen=True)
class Bounds:
    lower_price: tuple[Decimal, Decimal]
    upper_price: tuple[Decimal, Decimal]
    grid_count: tuple[int, int]
    spacings: tuple[grid.Spacing, ...] = (grid.Spacing.ARITHMETIC,)
    directions: tuple[grid.Direction, ...] = (grid.Direction.LONG,)


@dataclass(frozen=True)
class Search:
    base: grid.GridConfig  # the symbol, investment and trigger every candidate keeps
    bounds: Bounds
    method: Method = Method.GRID
    steps: int = 5  # grid: values tried for each price bound and for the grid count
    runs: int = 100  # random: candidates drawn
    seed: int = 0
    objective: Objective = Objective.TOTAL_RETURN
    train_fraction: Decimal = Decimal("0.7")
    top: int = 10

    @property
    def size(self) -> int:
        """How many candidates the search tries, before validation."""
        if self.method is Method.RANDOM:
            return self.runs
        shapes = len(self.bounds.spacings) * len(self.bounds.directions)
        low, high = self.bounds.grid_count
        return self.steps * self.steps * min(self.steps, high - low + 1) * shapes


@dataclass(frozen=True)
class Score:
    index: int  # the candidate's place in the search
    total_return: Decimal  # a fraction of the investment, exact
    max_drawdown: float  # a fraction of the peak
    sharpe: float | None
    grid_profit: Decimal
    fees: Decimal
    round_trips: int
    fills: int

    @property
    def return_over_drawdown(self) -> float | None:
        return float(self.total_return) / self.max_drawdown if self.max_drawdown > 0 else None

    def value(self, objective: Objective) -> float:
        """The number ranked on; higher is better."""
        if objective is Objective.TOTAL_RETURN:
            return float(self.total_return)
        if objective is Objective.SHARPE:
            return self.sharpe if self.sharpe is not None else -math.inf
        ratio = self.return_over_drawdown
        if ratio is None:  # it never fell: the best there is if it gained at all
            return math.inf if self.total_return > 0 else 0.0
        return ratio

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "total_return": str(self.total_return),
            "max_drawdown": self.max_drawdown,
            "sharpe": self.sharpe,
            "grid_profit": str(self.grid_profit),
            "fees": str(self.fees),
            "round_trips": self.round_trips,
            "fills": self.fills,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Score:
        return cls(
            index=int(data["index"]),
            total_return=Decimal(data["total_return"]),
            max_drawdown=float(data["max_drawdown"]),
            sharpe=None if data["sharpe"] is None else float(data["sharpe"]),
            grid_profit=Decimal(data["grid_profit"]),
            fees=Decimal(data["fees"]),
            round_trips=int(data["round_trips"]),
            fills=int(data["fills"]),
        )


@dataclass(frozen=True)
class ChunkScores:
    scores: tuple[Score, ...]
    skipped: int  # refused by the grid's validation or not runnable


@dataclass(frozen=True)
class Ranked:
    index: int
    config: grid.GridConfig
    train: Score
    report: Score | None  # None if the grid cannot run on the report part


@dataclass(frozen=True)
class Outcome:
    ranked: tuple[Ranked, ...]  # the top candidates, best first
    evaluated: int
    skipped: int
    split: int  # the report part's first candle


# Candidates -------------------------------------------------------------------------------------


def candidates(search: Search, instrument: Instrument) -> list[grid.GridConfig]:
    """Every candidate in a fixed order: the same search always yields the same list."""
    if search.method is Method.RANDOM:
        return _drawn(search, instrument)
    bounds = search.bounds
    lowers = _spread(bounds.lower_price, search.steps, instrument.tick_size)
    uppers = _spread(bounds.upper_price, search.steps, instrument.tick_size)
    counts = _counts(bounds.grid_count, search.steps)
    return [
        _candidate(search.base, lower, upper, count, spacing, direction)
        for spacing in bounds.spacings
        for direction in bounds.directions
        for lower in lowers
        for upper in uppers
        for count in counts
    ]


def _spread(bounds: tuple[Decimal, Decimal], steps: int, tick: Decimal) -> list[Decimal]:
    low, high = bounds
    if steps == 1 or low == high:
        return [_on_tick(low, tick)]
    values = (_on_tick(low + (high - low) * i / (steps - 1), tick) for i in range(steps))
    return list(dict.fromkeys(values))


def _counts(bounds: tuple[int, int], steps: int) -> list[int]:
    low, high = bounds
    if steps == 1 or low == high:
        return [low]
    return list(dict.fromkeys(round(low + (high - low) * i / (steps - 1)) for i in range(steps)))


def _on_tick(price: Decimal, tick: Decimal) -> Decimal:
    return (price / tick).to_integral_value(rounding=ROUND_HALF_EVEN) * tick


def _drawn(search: Search, instrument: Instrument) -> list[grid.GridConfig]:
    rng = random.Random(search.seed)  # noqa: S311 - a repeatable search, not a secret
    bounds, tick = search.bounds, instrument.tick_size

    def price(low: Decimal, high: Decimal) -> Decimal:
        first, last = math.ceil(low / tick), math.floor(high / tick)
        return rng.randint(first, max(first, last)) * tick

    return [
        _candidate(
            search.base,
            price(*bounds.lower_price),
            price(*bounds.upper_price),
            rng.randint(*bounds.grid_count),
            rng.choice(bounds.spacings),
            rng.choice(bounds.directions),
        )
        for _ in range(search.runs)
    ]


def _candidate(
    base: grid.GridConfig,
    lower: Decimal,
    upper: Decimal,
    count: int,
    spacing: grid.Spacing,
    direction: grid.Direction,
) -> grid.GridConfig:
    return replace(
        base, lower_price=lower, upper_price=upper, grid_count=count, spacing=spacing, direction=direction
    )


# Scoring ----------------------------------------------------------------------------------------


def split(series: CandleArrays, train_fraction: Decimal) -> tuple[CandleArrays, CandleArrays]:
    """The optimisation part and the report part; each holds at least one candle."""
    if len(series) < 2:
        raise ValueError("Walk-forward validation needs at least two candles.")
    at = min(max(1, int(len(series) * train_fraction)), len(series) - 1)
    return part(series, 0, at), part(series, at, len(series))


def part(series: CandleArrays, first: int, end: int) -> CandleArrays:
    return CandleArrays(
        series.unit,
        series.open_time_ms[first:end],
        series.open[first:end],
        series.high[first:end],
        series.low[first:end],
        series.close[first:end],
    )


def evaluate(
    index: int,
    config: grid.GridConfig,
    instrument: Instrument,
    series: CandleArrays,
    fees: Fees | None = None,
) -> Score | None:
    """The candidate's figures over `series`, or None if the grid refuses it or cannot run it."""
    try:
        # Without a trigger the start validates the grid at the first open itself (exact mode's
        # `_Run.start`, inside the kernel): checking it here too cost a tenth of a search.
        if config.trigger_price is not None:
            grid.validate(config, instrument, config.trigger_price)
        result = kernel.run(config, instrument, series, fees)
    except (ValueError, ExchangeError):  # GridConfigError, KernelUnsupported, InsufficientBalance
        return None
    return score(index, config, result, series)


def score(index: int, config: grid.GridConfig, result: KernelResult, series: CandleArrays) -> Score:
    investment = config.investment
    return Score(
        index=index,
        total_return=(result.final_equity - investment) / investment,
        max_drawdown=max_drawdown(result.equity, float(investment)),
        sharpe=daily_sharpe(result.equity, series.open_time_ms),
        grid_profit=result.grid_profit,
        fees=result.fees,
        round_trips=result.round_trips,
        fills=result.fill_count,
    )


def max_drawdown(equity: Floats, investment: float) -> float:
    """The deepest fall from an earlier peak as a fraction of it; the investment is the first peak."""
    curve = np.concatenate(([investment], equity))
    peaks = np.maximum.accumulate(curve)
    return float(np.max((peaks - curve) / peaks))


def daily_sharpe(equity: Floats, open_time_ms: kernel.Int64s) -> float | None:
    """As `metrics.sharpe`: each UTC day's last close, day-on-day returns, annualised by sqrt(365)."""
    days = open_time_ms // DAY_MS
    last_of_day = np.flatnonzero(np.append(days[1:] != days[:-1], True))
    marks = equity[last_of_day]
    if len(marks) < 3:
        return None
    returns = np.diff(marks) / marks[:-1]
    deviation = float(np.std(returns, ddof=1))
    if deviation < MIN_DEVIATION:  # as metrics.sharpe: flat equity has no meaningful ratio
        return None
    return float(np.mean(returns)) / deviation * math.sqrt(DAYS_PER_YEAR)


def score_chunk(
    configs: Sequence[grid.GridConfig],
    indices: Iterable[int],
    instrument: Instrument,
    train: CandleArrays,
    fees: Fees | None = None,
) -> ChunkScores:
    scores, skipped = [], 0
    for index in indices:
        scored = evaluate(index, configs[index], instrument, train, fees)
        if scored is None:
            skipped += 1
        else:
            scores.append(scored)
    return ChunkScores(tuple(scores), skipped)


def rank(scores: Iterable[Score], objective: Objective) -> list[Score]:
    """Best first; ties go to the earlier candidate, so any split into chunks ranks the same."""
    return sorted(scores, key=lambda s: (-s.value(objective), s.index))


def report(
    ranked: Sequence[Score],
    configs: Sequence[grid.GridConfig],
    instrument: Instrument,
    report_part: CandleArrays,
    top: int,
    fees: Fees | None = None,
) -> tuple[Ranked, ...]:
    """The top candidates, each run afresh over the report part. Their order is the training's."""
    return tuple(
        Ranked(
            s.index, configs[s.index], s, evaluate(s.index, configs[s.index], instrument, report_part, fees)
        )
        for s in ranked[:top]
    )


def optimise(
    search: Search,
    instrument: Instrument,
    series: CandleArrays,
    fees: Fees | None = None,
    *,
    chunk_size: int | None = None,
) -> Outcome:
    """The whole search in this process, in chunks of `chunk_size` as workers would run it."""
    configs = candidates(search, instrument)
    train, _report_part = split(series, search.train_fraction)
    size = chunk_size or len(configs) or 1
    chunks = [
        score_chunk(configs, range(first, min(first + size, len(configs))), instrument, train, fees)
        for first in range(0, len(configs), size)
    ]
    return finish(search, configs, chunks, instrument, series, fees)


def finish(
    search: Search,
    configs: Sequence[grid.GridConfig],
    chunks: Iterable[ChunkScores],
    instrument: Instrument,
    series: CandleArrays,
    fees: Fees | None = None,
) -> Outcome:
    chunks = list(chunks)
    scores = [s for chunk in chunks for s in chunk.scores]
    train, report_part = split(series, search.train_fraction)
    ranked = report(rank(scores, search.objective), configs, instrument, report_part, search.top, fees)
    return Outcome(ranked, len(scores), sum(chunk.skipped for chunk in chunks), len(train))


def recheck(
    config: grid.GridConfig, instrument: Instrument, series: CandleArrays, fees: Fees | None = None
) -> exact.Result:
    """The winner through exact mode over the same candles: its fills, books and curve in full."""
    return exact.run(config, instrument, [series.candle(i) for i in range(len(series))], fees)
