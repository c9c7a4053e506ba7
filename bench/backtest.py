"""Exact-mode backtest speed: candles per second through the live grid strategy and the simulated venue.

Run from the project root:

    .venv/bin/python bench/backtest.py [--walk 100000] [--levels 100] [--seed 7] [--repeat 3] [--profile]

No database, Redis or Django: the backtester is pure Python. Two series:
- the shipped 5-minute BTC/USDT series (exchanges/data/), a 60-grid long grid over 16k-24k;
- a seeded random walk of 1-minute candles (`--walk` of them) with a grid of `--levels` levels
  spanning the walk's own range, so it trades throughout.

Each series runs `--repeat` times and the best run counts (the machine is shared). Candle
generation and file reading are not timed. `--profile` prints the hot spots of one walk run.
"""

from __future__ import annotations

import argparse
import cProfile
import math
import pstats
import random
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bots.backtest import exact  # noqa: E402 - after the project root is importable
from bots.strategies.grid import GridConfig  # noqa: E402
from exchanges.base import Candle  # noqa: E402
from exchanges.market_data.files import read_candle_file  # noqa: E402
from exchanges.paper.instruments import INSTRUMENTS  # noqa: E402

FIVE_MINUTES = ROOT / "exchanges/data/btcusdt-5m-2023-01-02--2023-02-09.csv.gz"
BTC = INSTRUMENTS["BTCUSDT"]
TICK = Decimal("0.1")


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--walk", type=int, default=100_000, help="1-minute candles in the random walk")
    parser.add_argument("--levels", type=int, default=100, help="grid levels (price lines) on the walk")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--profile", action="store_true", help="print the walk run's hot spots")
    args = parser.parse_args()

    shipped = read_candle_file(FIVE_MINUTES)
    walk = random_walk(args.walk, args.seed)
    walk_config = walk_grid(walk, args.levels)
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


if __name__ == "__main__":
    main()
