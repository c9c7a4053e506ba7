"""Where a backtest's candles come from: the candle store, else the series the product ships.

A window is [start, end): candles whose open time is at or after `start` and before `end`.
The store may hold a series under several venues (Bybit imports, the replay files); a backtest
reads the one with the most candles in its window (Bybit's on a tie). A series that ships in the
data directory but was never imported is imported under the replay venue the first time a
backtest needs it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path

from django.conf import settings
from django.db.models import Max, Min

from exchanges.base import Candle
from exchanges.market_data import files, intervals, store
from exchanges.market_data.importer import import_from_file
from exchanges.market_data.models import Candle as StoredCandle

# The venues `import_candles` stores under, by preference on a tie: each is counted through the
# store's unique index (venue first), never by a scan of every venue's rows.
VENUES = ("bybit", files.REPLAY_VENUE)


@dataclass(frozen=True)
class Window:
    interval: str
    first: datetime  # the first open time in it
    last: datetime  # the last open time in it

    @classmethod
    def of(cls, interval: str, start: datetime, end: datetime) -> Window:
        """Raises OverflowError for moments the calendar cannot step past."""
        return cls(
            interval,
            intervals.ceil(interval, start),
            intervals.step(interval, intervals.ceil(interval, end), -1),
        )

    @property
    def size(self) -> int:
        """How many candles a complete series has in the window."""
        return intervals.count_between(self.interval, self.first, self.last)


@dataclass(frozen=True)
class Source:
    venue: str
    first_open: Decimal  # the window's first candle's open: where an unconditional grid starts


def find_source(symbol: str, window: Window) -> Source | None:
    """The venue whose candles a backtest of `symbol` over `window` reads, or None if none has any."""
    if window.size <= 0:
        return None
    counts = [
        (store.count_stored(store.Series(venue, symbol, window.interval), window.first, window.last), venue)
        for venue in VENUES
    ]
    stored, venue = max(counts, key=lambda count_and_venue: count_and_venue[0])
    if stored:
        return Source(venue, _first_stored(venue, symbol, window).open)
    shipped = _shipped_in(symbol, window)
    return Source(files.REPLAY_VENUE, shipped[0].open) if shipped else None


def _first_stored(venue: str, symbol: str, window: Window) -> Candle:
    row = (
        StoredCandle.objects.filter(
            venue=venue, symbol=symbol, interval=window.interval, open_time__gte=window.first
        )
        .order_by("open_time")
        .first()
    )
    assert row is not None  # the venue was chosen for having candles in the window
    return store.candles_between(venue, symbol, window.interval, row.open_time, row.open_time)[0]


def _shipped_in(symbol: str, window: Window) -> list[Candle]:
    path = files.shipped_file(symbol, window.interval)
    if path is None:
        return []
    return [c for c in files.read_candle_file(path) if window.first <= c.open_time <= window.last]


def load(venue: str, symbol: str, window: Window) -> list[Candle]:
    """The window's candles, oldest first; a shipped series is imported into the store first."""
    candles = store.candles_between(venue, symbol, window.interval, window.first, window.last)
    if candles or venue != files.REPLAY_VENUE:
        return candles
    path = files.shipped_file(symbol, window.interval)
    if path is None:
        return []
    import_from_file(path, store.Series(venue, symbol, window.interval))
    return store.candles_between(venue, symbol, window.interval, window.first, window.last)


@dataclass(frozen=True)
class Span:
    interval: str
    first: datetime  # the first candle's open time
    last: datetime  # the last candle's open time

    def __str__(self) -> str:
        return f"{self.interval} from {self.first:%Y-%m-%d} to {self.last:%Y-%m-%d}"


def spans_on_hand(symbol: str) -> list[Span]:
    """Each interval of `symbol` a backtest can read, with the open times it covers: the store's
    series (one grouped query) and the shipped files not yet imported, finest interval first."""
    spans = {
        row["interval"]: Span(row["interval"], row["first"], row["last"])
        for row in StoredCandle.objects.filter(venue__in=VENUES, symbol=symbol)
        .values("interval")
        .annotate(first=Min("open_time"), last=Max("open_time"))
    }
    for path in files.candle_files(Path(settings.PRICE_DATA_DIR)):
        series = files.series_named_by(path)
        if series is None or series.symbol != symbol or series.interval in spans:
            continue
        candles = files.read_candle_file(path)
        if candles:
            spans[series.interval] = Span(series.interval, candles[0].open_time, candles[-1].open_time)
    order = list(intervals.WIDTHS)  # finest first
    return sorted(spans.values(), key=lambda span: order.index(span.interval))


def on_hand_sentence(symbol: str) -> str:
    spans = spans_on_hand(symbol)
    if not spans:
        return f"No candles of {symbol} are on hand yet."
    return f"Candles of {symbol} on hand: {'; '.join(str(span) for span in spans)}."
