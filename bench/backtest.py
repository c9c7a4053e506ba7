"""Backtest speed: exact mode (the live grid strategy through the simulated venue) and the kernel.

Run from the project root:

    .venv/bin/python bench/backtest.py [--walk 100000] [--year 525600] [--levels 100] [--seed 7]
                                       [--repeat 3] [--profile]

No database, Redis or Django: the backtester is pure Python. Two series:
- the shipped 5-minute BTC/USDT series (exchanges/data/), a 60-grid long grid over 16k-24k;
- a seeded random walk of 1-minute candles (`--walk` of them) with a grid of `--levels` levels
  spanning the walk's own range, so it trades throughout.

Each series runs `--repeat` times and the best run counts (the machine is shared). Candle
generation and file reading are not timed. `--profile` prints the hot spots of one walk run.

The kernel (bots/backtest/kernel.py) runs a year of 1-minute candles (`--year`, a seeded walk)
with `--levels` levels, and exact mode runs the same year in the same process for the ratio and
a check that both made the same fills and profit. Printed apart: turning the candles into the
kernel's integer columns (once per series), the first call (loading or compiling the loop), the
kernel's peak allocation during a run (tracemalloc, the series itself excluded) and the process's
peak resident memory (which includes exact mode's Decimal candles).

The optimisation (bots/backtest/optimise.py) runs a seeded random search of `--runs` grids
(range, count, spacing, direction) over the first 30 days of the shipped 5-minute series with
walk-forward validation (70% to choose, the rest to report) and the winner re-checked in exact
mode: once in this process, then split in chunks over `--workers` processes as Celery workers
would share it. `--optimise-only` skips the rest.

Against backtesting.py (the `backtesting` package, a development requirement): the same grid
written as its strategy (a limit order at each level, the counter-order at the neighbouring level
once one fills, the maker fee as its commission, the start trade at market on the first open) runs
on the same candles in this process beside exact mode and the kernel: candles/s of each, the
ratios, and whether the fills (candle, side, price) are the same. `--versus-only` runs just that.
Last, the same over the `--year` walk (the issue's yardstick for the 1,000x target: on short series
the kernel's fixed start in Decimal weighs more than its loop); `--skip-year-versus` skips it, as
backtesting.py needs minutes for it.
Sizes there are whole units, so its market is quoted per lot step (a micro-bitcoin). One fill rule
differs by design: backtesting.py places orders only between candles, while our venue rests a
counter-order at once and fills it further along the same candle's path (open, nearer extreme,
other extreme, close). Where a candle crosses two levels both ways, ours books the round trip in
that candle and backtesting.py from the next one on; the count of such candles is printed. Its
quantities are fixed per order (its fees are paid in cash), so only counts and prices compare.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import multiprocessing
import pstats
import random
import resource
import sys
import time
import tracemalloc
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib.metadata import version
from pathlib import Path
from typing import TypeVar

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bots.backtest import exact, kernel, optimise  # noqa: E402 - after the project root is importable
from bots.strategies import grid  # noqa: E402
from bots.strategies.grid import Direction, GridConfig, Spacing, grid_lines  # noqa: E402
from exchanges.base import Candle, Side  # noqa: E402
from exchanges.market_data.files import read_candle_file  # noqa: E402
from exchanges.paper.instruments import INSTRUMENTS  # noqa: E402

FIVE_MINUTES = ROOT / "exchanges/data/btcusdt-5m-2023-01-02--2023-02-09.csv.gz"
BTC = INSTRUMENTS["BTCUSDT"]
TICK = Decimal("0.1")
T = TypeVar("T")


def random_walk(count: int, seed: int, start: float = 20000.0, volatility: float = 0.0004) -> list[Candle]:
    """1-minute candles of a geometric random walk, on BTCUSDT's tick."""
    rng = random.Random(seed)  # noqa: S311 - a seeded market, not a secret
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    price = start
    candles = []
    for _ in range(count):
        close = price * math.exp(rng.gauss(0, volatility))
        high = max(price, close) * (1 + abs(rng.gauss(0, volatility / 2)))
        low = min(price, close) * (1 - abs(rng.gauss(0, volatility / 2)))
        candles.append(
            Candle(moment, _tick(price), _tick(high), _tick(low), _tick(close), Decimal(1)),
        )
        price, moment = close, moment + timedelta(minutes=1)
    return candles


def _tick(value: float) -> Decimal:
    return Decimal(f"{value:.1f}")


def walk_grid(candles: Sequence[Candle], levels: int) -> GridConfig:
    lower = min(c.low for c in candles).quantize(Decimal(1))
    upper = max(c.high for c in candles).quantize(Decimal(1)) + 1
    return GridConfig("BTCUSDT", lower, upper, levels - 1, Decimal(100000))


def measure(name: str, config: GridConfig, candles: Sequence[Candle], repeat: int) -> None:
    best = math.inf
    result = None
    for _ in range(repeat):
        began = time.perf_counter()
        result = exact.run(config, BTC, candles)
        best = min(best, time.perf_counter() - began)
    assert result is not None
    print(  # noqa: T201
        f"  {name:<34} {len(candles):>7} candles  {len(result.fills):>6} fills  "
        f"{len(candles) / best:>9,.0f} candles/s  ({best * 1000:.0f} ms)"
    )


def measure_kernel(candles: Sequence[Candle], levels: int, seed: int, repeat: int, imported: int) -> None:
    count = len(candles)
    config = walk_grid(candles, levels)
    converted, series = timed(lambda: kernel.CandleArrays.of(candles, BTC.tick_size))
    first, _ = timed(lambda: kernel.run(config, BTC, series))
    runs = [timed(lambda: kernel.run(config, BTC, series)) for _ in range(repeat)]
    best, result = min(runs, key=lambda run: run[0])
    tracemalloc.start()
    kernel.run(config, BTC, series)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    exact_time, slow = timed(lambda: exact.run(config, BTC, candles))
    lines = grid_lines(config, BTC)
    same_fills = [(f.side, f.price) for f in slow.fills if f.is_maker] == [
        (f.side, lines[f.level]) for f in result.fills
    ]
    same_profit = abs(result.grid_profit - slow.grid_profit) <= abs(slow.grid_profit) * Decimal("1e-8")
    print(f"kernel, {count:,} 1-minute candles (seed {seed}), {levels} levels, best of {repeat}")  # noqa: T201
    print(  # noqa: T201
        f"  kernel      {count / best:>12,.0f} candles/s  ({best * 1000:.1f} ms)  {result.fill_count} fills\n"
        f"  exact mode  {count / exact_time:>12,.0f} candles/s  ({exact_time * 1000:.0f} ms)  "
        f"kernel x{exact_time / best:,.0f}\n"
        f"  agreement   fills {'same' if same_fills else 'DIFFER'}, grid profit "
        f"{'same' if same_profit else 'DIFFERS'} ({result.grid_profit:.2f} USDT), fees "
        f"{'same' if result.fees == slow.fees else 'DIFFER'}\n"
        f"  series      {_megabytes(series_bytes(series))} in columns, converted in {converted:.2f} s; "
        f"first call {first:.2f} s\n"
        f"  memory      kernel peak {_megabytes(peak)} per run, plus the series; process "
        f"{_megabytes(imported)} once imported (numba's LLVM most of it), peak {_megabytes(peak_rss())} "
        "(with exact mode's Decimal candles)"
    )


THIRTY_DAYS_OF_5M = 30 * 24 * 12


def optimisation_search(runs: int, seed: int) -> optimise.Search:
    return optimise.Search(
        base=GridConfig("BTCUSDT", Decimal(16000), Decimal(24000), 20, Decimal(10000)),
        bounds=optimise.Bounds(
            lower_price=(Decimal(15000), Decimal(20000)),
            upper_price=(Decimal(21000), Decimal(25000)),
            grid_count=(10, 150),
            spacings=tuple(Spacing),
            directions=tuple(Direction),
        ),
        method=optimise.Method.RANDOM,
        runs=runs,
        seed=seed,
        objective=optimise.Objective.RETURN_OVER_DRAWDOWN,
    )


def _score_share(
    search: optimise.Search, series: kernel.CandleArrays, first: int, end: int
) -> optimise.ChunkScores:
    """One worker's chunk: what the `optimise_backtest_chunk` task computes."""
    train, _ = optimise.split(series, search.train_fraction)
    return optimise.score_chunk(optimise.candidates(search, BTC), range(first, end), BTC, train)


def measure_optimisation(shipped: Sequence[Candle], runs: int, seed: int, workers: int) -> None:
    candles = shipped[:THIRTY_DAYS_OF_5M]
    series = kernel.CandleArrays.of(candles, BTC.tick_size)
    search = optimisation_search(runs, seed)
    kernel.run(search.base, BTC, series)  # load the compiled loop outside the timings
    alone, outcome = timed(lambda: optimise.optimise(search, BTC, series))
    winner = outcome.ranked[0]
    recheck, checked = timed(
        lambda: optimise.recheck(winner.config, BTC, optimise.split(series, search.train_fraction)[0])
    )
    agrees = checked.total_pnl / checked.investment == winner.train.total_return

    def shared() -> optimise.Outcome:
        share = -(-runs // workers)
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            chunks = pool.starmap(
                _score_share, [(search, series, i, min(i + share, runs)) for i in range(0, runs, share)]
            )
        return optimise.finish(search, optimise.candidates(search, BTC), chunks, BTC, series)

    parallel, split_outcome = timed(shared)
    config = winner.config
    reported = f"{winner.report.total_return:.4f}" if winner.report else "n/a"
    rechecked = "agrees" if agrees else "DIFFERS"
    print(  # noqa: T201
        f"optimisation, {runs} random grids (seed {seed}) over 30 days of 5m candles ({len(series):,}), "
        "walk-forward 70/30\n"
        f"  one process  {alone:.2f} s  ({alone / runs * 1000:.1f} ms a grid); {outcome.evaluated} scored, "
        f"{outcome.skipped} skipped\n"
        f"  {workers} workers    {parallel:.2f} s + exact re-check of the winner {recheck:.2f} s = "
        f"{parallel + recheck:.2f} s; same ranking: {'yes' if split_outcome == outcome else 'NO'}\n"
        f"  winner       {config.lower_price}-{config.upper_price}, {config.grid_count} {config.spacing} "
        f"{config.direction}: return {winner.train.total_return:.4f} optimised, "
        f"{reported} reported; exact mode {rechecked}"
    )


def timed(work: Callable[[], T]) -> tuple[float, T]:
    began = time.perf_counter()
    result = work()
    return time.perf_counter() - began, result


def series_bytes(series: kernel.CandleArrays) -> int:
    columns = (series.open_time_ms, series.open, series.high, series.low, series.close)
    return sum(column.nbytes for column in columns)


def peak_rss() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kilobytes on Linux


def _megabytes(size: float) -> str:
    return f"{size / 2**20:.1f} MB"


# Against backtesting.py ----------------------------------------------------------------------

# backtesting.py trades whole units (a size below 1 is a share of equity), so its market is
# quoted per micro-bitcoin, BTCUSDT's lot step: sizes are whole lot steps, prices scaled down.
LOT = BTC.quantity_step


def backtesting_py_grid(
    config: GridConfig, candles: Sequence[Candle]
) -> tuple[float, list[tuple[int, str, Decimal]]]:
    """The same grid as a backtesting.py strategy: a limit order at each level, the counter-order
    at the neighbouring level once one fills, the same fee (as its commission). Returns the run's
    seconds and its fills as (candle index, side, price)."""
    import pandas as pd
    from backtesting import Backtest, Strategy

    first_open = candles[0].open
    layout = grid.preview(config, BTC, first_open)
    lines = [level.price for level in layout.levels]
    units = int(layout.quantity_per_order / LOT)
    start_units = units * sum(1 for level in layout.levels if level.side is Side.SELL)
    scale = float(LOT)
    fills: list[tuple[int, str, Decimal]] = []

    class Grid(Strategy):
        def init(self) -> None:
            self.resting: dict[object, tuple[str, int]] = {}
            self.closed_seen = 0
            if start_units:  # the start trade, at market on the first candle's open
                self.buy(size=start_units, tag="start")
            for line, level in enumerate(layout.levels):
                if level.side is Side.BUY:
                    self.rest("buy", line)
                elif level.side is Side.SELL:
                    self.rest("sell", line)

        def rest(self, side: str, line: int) -> None:
            price = float(lines[line]) * scale
            order = self.buy(size=units, limit=price) if side == "buy" else self.sell(size=units, limit=price)
            self.resting[order] = (side, line)

        def next(self) -> None:
            bar = len(self.data) - 2  # the first bar is a copy of the first candle's open
            filled = [(order, placed) for order, placed in self.resting.items() if order not in self.orders]
            if not filled:
                return
            # Its own fill prices: a buy opens a trade, a sell closes earlier ones (FIFO) at one price.
            trades = (*self.trades, *self.closed_trades)
            opened = [t for t in trades if t.entry_bar == bar + 1 and t.tag != "start"]
            closed = self.closed_trades[self.closed_seen :]
            self.closed_seen = len(self.closed_trades)
            buys = [t.entry_price for t in opened if t.size > 0]
            sells = {t.exit_price for t in closed if t.exit_bar == bar + 1}
            sells |= {t.entry_price for t in opened if t.size < 0}
            for side, prices in (("buy", buys), ("sell", sorted(sells))):
                fills.extend((bar, side, unscaled(price)) for price in prices)
            for order, (side, line) in filled:
                del self.resting[order]
                self.rest("sell", line + 1) if side == "buy" else self.rest("buy", line - 1)

    rows = [(first_open,) * 4, *((c.open, c.high, c.low, c.close) for c in candles)]
    frame = pd.DataFrame(
        [[float(price) * scale for price in row] for row in rows],
        columns=["Open", "High", "Low", "Close"],
        index=pd.date_range("2024-01-01", periods=len(rows), freq="min"),
    )
    backtest = Backtest(
        frame, Grid, cash=float(config.investment) * 2, commission=float(BTC.maker_fee), finalize_trades=False
    )
    began = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its notice that grid trades stay open at the end
        backtest.run()
    elapsed = time.perf_counter() - began
    return elapsed, sorted(fills)


def unscaled(price: float) -> Decimal:
    """A backtesting.py price per lot step back in USDT per BTC, on the tick."""
    return (Decimal(repr(float(price))) / LOT).quantize(BTC.tick_size)


def our_fills(config: GridConfig, candles: Sequence[Candle]) -> list[tuple[int, str, Decimal]]:
    index = {candle.open_time: i for i, candle in enumerate(candles)}
    result = exact.run(config, BTC, candles)
    return sorted((index[f.time], f.side.value, f.price) for f in result.fills if f.is_maker)


def compare_fills(ours: list[tuple[int, str, Decimal]], theirs: list[tuple[int, str, Decimal]]) -> str:
    same = sum((Counter(ours) & Counter(theirs)).values())
    verdict = "same" if ours == theirs else "DIFFER"
    line = (
        f"fills {verdict}: ours {len(ours)}, backtesting.py {len(theirs)}, "
        f"{same} identical (candle, side, price)"
    )
    refills = same_candle_refills(ours)
    line += f"\n  candles where ours filled a counter-order in the candle that placed it: {len(refills)}"
    if ours != theirs:
        only_ours, only_theirs = Counter(ours) - Counter(theirs), Counter(theirs) - Counter(ours)
        # backtesting.py fills those one candle later (at the open if it has gapped past the
        # level); the levels' orders then run apart for a while, until both have crossed them.
        first = min(fill[0] for fill in (*only_ours, *only_theirs))
        answer = "yes" if first in refills else "NO"
        line += f"\n  first difference at candle {first}, one of those candles: {answer}"
    return line


def same_candle_refills(ours: list[tuple[int, str, Decimal]]) -> set[int]:
    """The candles where ours filled both a level and, further along the path, its counter-order:
    backtesting.py places orders only between candles, so it fills the counter-order later."""
    sides: dict[int, set[str]] = {}
    for candle, side, _ in ours:
        sides.setdefault(candle, set()).add(side)
    return {candle for candle, seen in sides.items() if len(seen) == 2}


def measure_versus(candles: Sequence[Candle], config: GridConfig, label: str) -> None:
    count = len(candles)
    series = kernel.CandleArrays.of(candles, BTC.tick_size)
    kernel.run(config, BTC, series)  # load the compiled loop outside the timings
    kernel_time = min(timed(lambda: kernel.run(config, BTC, series))[0] for _ in range(5))
    exact_time, _ = timed(lambda: exact.run(config, BTC, candles))
    theirs_time, theirs = backtesting_py_grid(config, candles)
    ours = our_fills(config, candles)
    print(  # noqa: T201
        f"versus backtesting.py {version('backtesting')}: {label}, {count:,} candles, "
        f"{config.grid_count} grids {config.lower_price}-{config.upper_price}\n"
        f"  kernel          {count / kernel_time:>12,.0f} candles/s  ({kernel_time * 1000:.1f} ms)\n"
        f"  exact mode      {count / exact_time:>12,.0f} candles/s  ({exact_time * 1000:.0f} ms)\n"
        f"  backtesting.py  {count / theirs_time:>12,.0f} candles/s  ({theirs_time * 1000:.0f} ms)\n"
        f"  ratios          kernel x{theirs_time / kernel_time:,.0f} backtesting.py, "
        f"exact mode x{theirs_time / exact_time:,.1f}\n"
        f"  {compare_fills(ours, theirs)}"
    )


def main() -> None:
    imported = peak_rss()
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--walk", type=int, default=100_000, help="1-minute candles in the random walk")
    parser.add_argument("--year", type=int, default=525_600, help="1-minute candles for the kernel")
    parser.add_argument("--levels", type=int, default=100, help="grid levels (price lines) on the walk")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print the walk run's hot spots")
    parser.add_argument("--runs", type=int, default=500, help="grids the optimisation tries")
    parser.add_argument("--workers", type=int, default=2, help="processes sharing the optimisation")
    parser.add_argument("--optimise-only", action="store_true", help="measure only the optimisation")
    parser.add_argument("--versus-only", action="store_true", help="measure only against backtesting.py")
    parser.add_argument(
        "--skip-year-versus",
        action="store_true",
        help="skip backtesting.py over the year (minutes of its time)",
    )
    args = parser.parse_args()

    shipped = read_candle_file(FIVE_MINUTES)
    if args.optimise_only:
        measure_optimisation(shipped, args.runs, args.seed, args.workers)
        return
    walk = random_walk(args.walk, args.seed)
    walk_config = walk_grid(walk, args.levels)
    if args.versus_only:
        versus(shipped, walk, walk_config)
        return
    print("exact mode, best of", args.repeat)  # noqa: T201
    measure(
        "shipped 5m, 60 grids",
        GridConfig("BTCUSDT", Decimal(16000), Decimal(24000), 60, Decimal(10000)),
        shipped,
        args.repeat,
    )
    measure(f"1m walk seed {args.seed}, {args.levels} levels", walk_config, walk, args.repeat)
    if args.profile:
        profiler = cProfile.Profile()
        profiler.runcall(exact.run, walk_config, BTC, walk)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(12)
    year = random_walk(args.year, args.seed)
    measure_kernel(year, args.levels, args.seed, args.repeat, imported)
    measure_optimisation(shipped, args.runs, args.seed, args.workers)
    versus(shipped, walk, walk_config)
    if not args.skip_year_versus:
        # The yardstick: the year the kernel must run in under 0.1 s, against backtesting.py.
        measure_versus(year, walk_grid(year, args.levels), "1-year 1m walk")


def versus(shipped: Sequence[Candle], walk: Sequence[Candle], walk_config: GridConfig) -> None:
    measure_versus(walk, walk_config, "1m walk")
    for grids in (60, 8):  # 8: levels farther apart than the candles reach, no same-candle refill
        config = GridConfig("BTCUSDT", Decimal(16000), Decimal(24000), grids, Decimal(10000))
        measure_versus(shipped, config, "shipped 5m")


if __name__ == "__main__":
    main()
