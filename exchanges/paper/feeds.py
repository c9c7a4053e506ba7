"""Price feeds for the paper market: a replay of real candles, or a seeded random walk.

A feed is addressed by position so the market can resume where it stopped
after a restart (`PaperMarket.feed_position`).
"""

from __future__ import annotations

import csv
import functools
import random
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Protocol

from django.conf import settings

from exchanges.paper.instruments import instrument_for

# The real series in the data directory, by symbol (see shared/data/README.md).
REPLAY_FILES = {"BTCUSDT": "btcusdt-5m-2023-01-02--2023-02-09.csv"}
RANDOM_WALK_STARTS = {"BTCUSDT": Decimal("23000"), "ETHUSDT": Decimal("1600")}


@dataclass(frozen=True)
class PricePoint:
    time: datetime
    price: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal


class PriceFeed(Protocol):
    def point_at(self, position: int) -> PricePoint: ...


class ReplayFeed:
    """Real candles in order, looping at the end. Each step moves the price to the close
    and fills anything between the candle's low and high."""

    def __init__(self, points: tuple[PricePoint, ...]) -> None:
        if not points:
            raise ValueError("A replay needs at least one candle.")
        self.points = points

    @classmethod
    def from_csv(cls, path: Path) -> ReplayFeed:
        return cls(_read_candles(str(path)))

    def point_at(self, position: int) -> PricePoint:
        return self.points[position % len(self.points)]


@functools.cache
def _read_candles(path: str) -> tuple[PricePoint, ...]:
    with open(path, newline="") as handle:
        return tuple(
            PricePoint(
                time=datetime.fromtimestamp(int(row["open_time_ms"]) / 1000, tz=UTC),
                price=Decimal(row["close"]),
                high=Decimal(row["high"]),
                low=Decimal(row["low"]),
                volume=Decimal(row["volume"]),
            )
            for row in csv.DictReader(handle)
        )


class RandomWalkFeed:
    """A reproducible walk in whole ticks: the same seed gives the same prices."""

    def __init__(
        self, *, seed: int, start: Decimal, tick: Decimal, step_fraction: Decimal = Decimal("0.002")
    ) -> None:
        self.tick = tick
        self.start_time = datetime(2024, 1, 1, tzinfo=UTC)
        self._random = random.Random(seed)  # noqa: S311 - a price simulation, not a secret
        self._sigma_ticks = max(1, int(start * step_fraction / tick))
        self._prices = [start.quantize(tick, rounding=ROUND_HALF_EVEN)]

    def point_at(self, position: int) -> PricePoint:
        while len(self._prices) <= position:
            step = round(self._random.gauss(0, self._sigma_ticks))
            self._prices.append(max(self.tick, self._prices[-1] + step * self.tick))
        price = self._prices[position]
        previous = self._prices[position - 1] if position else price
        return PricePoint(
            time=self.start_time + timedelta(minutes=5 * position),
            price=price,
            high=max(price, previous),
            low=min(price, previous),
            volume=Decimal(self._random.randint(1, 500)),
        )


def feed_for(symbol: str, data_dir: Path | None = None) -> PriceFeed:
    """The replay of real data when the data directory has it, else a seeded random walk."""
    directory = Path(data_dir or settings.PRICE_DATA_DIR)
    filename = REPLAY_FILES.get(symbol)
    if filename and (directory / filename).is_file():
        return ReplayFeed.from_csv(directory / filename)
    return RandomWalkFeed(
        seed=sum(map(ord, symbol)),
        start=RANDOM_WALK_STARTS.get(symbol, Decimal("100")),
        tick=instrument_for(symbol).tick_size,
    )
