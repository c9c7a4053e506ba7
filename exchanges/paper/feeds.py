"""Price feeds for the paper market: a replay of real candles, or a seeded random walk.

A feed is addressed by position so the market can resume where it stopped
after a restart (`PaperMarket.feed_position`).
"""

from __future__ import annotations

import functools
import logging
import random
import threading
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal
from pathlib import Path
from typing import Protocol

from django.conf import settings

from exchanges.base import ExchangeError
from exchanges.market_data.files import read_candle_file
from exchanges.paper.instruments import instrument_for

logger = logging.getLogger(__name__)

# The real series in the data directory, by symbol (exchanges/data/README.md).
REPLAY_FILES = {"BTCUSDT": "btcusdt-5m-2023-01-02--2023-02-09.csv.gz"}
RANDOM_WALK_STARTS = {"BTCUSDT": Decimal("23000"), "ETHUSDT": Decimal("1600")}
# How much market time one point of the offline feeds stands for: the replay file's resolution.
POINT_SPAN = timedelta(minutes=5)
# A new market opens this many points into its feed (a week of 5-minute candles), so that from
# its first minute it has a history leading up to its price: charts and auto range need one.
OPENING_POSITION = 2016


@dataclass(frozen=True)
class PricePoint:
    time: datetime
    price: Decimal
    high: Decimal
    low: Decimal
    volume: Decimal


class PriceFeed(Protocol):
    def point_at(self, position: int) -> PricePoint: ...

    @property
    def opening_position(self) -> int:
        """Where a new market starts reading this feed."""

    def history(self, before: int, count: int) -> list[PricePoint]:
        """Up to `count` points leading up to position `before` (excluded), oldest first; none
        for a feed without a history of its own."""


def _points_before(feed: PriceFeed, before: int, count: int) -> list[PricePoint]:
    return [feed.point_at(position) for position in range(max(0, before - count), max(0, before))]


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

    @property
    def opening_position(self) -> int:
        return min(OPENING_POSITION, len(self.points) - 1)

    def history(self, before: int, count: int) -> list[PricePoint]:
        return _points_before(self, before, count)


@functools.cache
def _read_candles(path: str) -> tuple[PricePoint, ...]:
    return tuple(
        PricePoint(
            time=candle.open_time, price=candle.close, high=candle.high, low=candle.low, volume=candle.volume
        )
        for candle in read_candle_file(Path(path))
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
        # Price and volume per position, drawn in order, so any position reads the same every time.
        self._points = [
            (start.quantize(tick, rounding=ROUND_HALF_EVEN), Decimal(self._random.randint(1, 500)))
        ]

        self._drawing = threading.Lock()  # one feed serves a process's threads

    def point_at(self, position: int) -> PricePoint:
        with self._drawing:
            while len(self._points) <= position:
                step = round(self._random.gauss(0, self._sigma_ticks))
                price = max(self.tick, self._points[-1][0] + step * self.tick)
                self._points.append((price, Decimal(self._random.randint(1, 500))))
        price, volume = self._points[position]
        previous = self._points[position - 1][0] if position else price
        return PricePoint(
            time=self.start_time + POINT_SPAN * position,
            price=price,
            high=max(price, previous),
            low=min(price, previous),
            volume=volume,
        )

    @property
    def opening_position(self) -> int:
        return OPENING_POSITION

    def history(self, before: int, count: int) -> list[PricePoint]:
        return _points_before(self, before, count)


class PublicTickerFeed:
    """Bybit's live last price from its public ticker; the fallback feed when Bybit can't be reached."""

    def __init__(self, symbol: str, *, fallback: PriceFeed, base_url: str | None = None) -> None:
        self.symbol = symbol
        self.fallback = fallback
        self.base_url = base_url

    def point_at(self, position: int) -> PricePoint:
        from exchanges.bybit.adapter import BybitExchange  # pybit loads only for this feed

        environment = "custom" if self.base_url else "mainnet"
        # Public market data needs no key; one quick try, so a beat step never stalls.
        venue = BybitExchange(
            "", "", environment=environment, base_url=self.base_url, timeout=3, read_retries=0
        )
        try:
            ticker = venue.ticker(self.symbol)
        except ExchangeError:
            logger.warning(
                "Bybit's public ticker for %s is unreachable; using the fallback feed.", self.symbol
            )
            return self.fallback.point_at(position)
        return PricePoint(ticker.time, ticker.last, ticker.last, ticker.last, Decimal(0))

    @property
    def opening_position(self) -> int:
        return 0

    def history(self, before: int, count: int) -> list[PricePoint]:
        # Live prices have no positions to look back through.
        return []


def feed_for(symbol: str, data_dir: Path | None = None) -> PriceFeed:
    """What PAPER_FEED names: Bybit's live tickers, or the replay (a random walk without data)."""
    offline = _offline_feed(symbol, str(data_dir or settings.PRICE_DATA_DIR))
    if settings.PAPER_FEED == "bybit":
        return PublicTickerFeed(symbol, fallback=offline, base_url=settings.BYBIT_PUBLIC_URL or None)
    return offline


@functools.cache
def _offline_feed(symbol: str, data_dir: str) -> PriceFeed:
    """The replay of real data when the data directory has it, else a seeded random walk. Kept
    per process: a walk is drawn in order, so a new one would redraw every step up to today's."""
    directory = Path(data_dir)
    filename = REPLAY_FILES.get(symbol)
    if filename and (directory / filename).is_file():
        return ReplayFeed.from_csv(directory / filename)
    if filename:
        logger.warning("No candle file %s in %s: %s runs on a random walk.", filename, directory, symbol)
    return RandomWalkFeed(
        seed=sum(map(ord, symbol)),
        start=RANDOM_WALK_STARTS.get(symbol, Decimal("100")),
        tick=instrument_for(symbol).tick_size,
    )


# What the pages say about the feed -------------------------------------------------------

FEED_KINDS = ("replay", "random_walk", "bybit", "manual")


@dataclass(frozen=True)
class FeedDescription:
    """Which prices a paper market runs on, in a trader's words."""

    symbol: str
    kind: str  # one of FEED_KINDS
    title: str  # "Replay of real candles"
    detail: str  # the source, its period, where the replay is now


def describe_feed(symbol: str, data_dir: Path | None = None) -> FeedDescription:
    """The feed `feed_for` gives `symbol` under today's settings, described."""
    if settings.PAPER_FEED == "none":
        return FeedDescription(
            symbol,
            "manual",
            "Prices set by hand",
            "No feed runs (PAPER_FEED=none): the price moves only when set.",
        )
    offline = _offline_feed(symbol, str(data_dir or settings.PRICE_DATA_DIR))
    if settings.PAPER_FEED == "bybit":
        source = settings.BYBIT_PUBLIC_URL or "Bybit mainnet"
        fallback = _describe_offline(symbol, offline)
        return FeedDescription(
            symbol,
            "bybit",
            "Live Bybit prices",
            f"{symbol}'s last price from {source}'s public ticker; when Bybit cannot be reached, "
            f"the {fallback.title[0].lower()}{fallback.title[1:]} stands in.",
        )
    return _describe_offline(symbol, offline)


def _describe_offline(symbol: str, feed: PriceFeed) -> FeedDescription:
    if isinstance(feed, ReplayFeed):
        first, last = feed.points[0].time, feed.points[-1].time
        now = _replayed_now(symbol, feed)
        return FeedDescription(
            symbol,
            "replay",
            "Replay of real candles",
            f"{symbol} {_span(feed)} candles from {_day(first)} to {_day(last)} "
            f"({REPLAY_FILES.get(symbol, 'data file')}), looping at the end"
            + (f"; now replaying {now:%-d %b %Y %H:%M} UTC." if now else "."),
        )
    start = RANDOM_WALK_STARTS.get(symbol, Decimal("100"))
    return FeedDescription(
        symbol,
        "random_walk",
        "Random walk",
        f"Simulated {symbol} prices from a seeded random walk that began at {start:,}: no real market data.",
    )


def _span(feed: ReplayFeed) -> str:
    if len(feed.points) < 2:
        return "real"
    minutes = int((feed.points[1].time - feed.points[0].time).total_seconds() // 60)
    return f"{minutes}-minute" if minutes < 60 else f"{minutes // 60}-hour"


def _day(moment: datetime) -> str:
    return f"{moment:%-d %b %Y}"


def _replayed_now(symbol: str, feed: ReplayFeed) -> datetime | None:
    from exchanges.paper.models import PaperMarket  # here, so the feeds load without the app registry

    position = PaperMarket.objects.filter(symbol=symbol).values_list("feed_position", flat=True).first()
    if not position:
        return None
    return feed.point_at(position - 1).time
