"""The candle store's repository: plain functions in, plain value objects out.

Readers (the backtester, the simulator, charts) see `exchanges.base.Candle`, never the model.
Missing candles are reported by `find_gaps` and never filled in: a backtest over a hole must
know it is one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.db.models import QuerySet

from exchanges.base import Candle
from exchanges.market_data import intervals
from exchanges.market_data.models import Candle as StoredCandle

INSERT_BATCH = 1000
READ_CHUNK = 10_000


@dataclass(frozen=True)
class Series:
    venue: str
    symbol: str
    interval: str

    def __post_init__(self) -> None:
        intervals.check(self.interval)

    def __str__(self) -> str:
        return f"{self.venue} {self.symbol} {self.interval}"


@dataclass(frozen=True)
class Gap:
    """Candles missing from a series: every open time from `first` to `last`, both included."""

    first: datetime
    last: datetime
    missing: int


class MisalignedCandle(ValueError):
    pass


def _rows(series: Series, start: datetime | None, end: datetime | None) -> QuerySet[StoredCandle]:
    rows = StoredCandle.objects.filter(venue=series.venue, symbol=series.symbol, interval=series.interval)
    if start is not None:
        rows = rows.filter(open_time__gte=start)
    if end is not None:
        rows = rows.filter(open_time__lte=end)
    return rows


def _trimmed(value: Decimal) -> Decimal:
    """The stored column's padding zeros removed, so 17055.5 reads back as 17055.5."""
    trimmed = value.normalize()
    return trimmed.quantize(Decimal(1)) if trimmed.as_tuple().exponent > 0 else trimmed  # type: ignore[operator]


def _value(row: StoredCandle) -> Candle:
    return Candle(
        open_time=row.open_time,
        open=_trimmed(row.open),
        high=_trimmed(row.high),
        low=_trimmed(row.low),
        close=_trimmed(row.close),
        volume=_trimmed(row.volume),
    )


def candles_between(venue: str, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
    """Stored candles whose open time lies in [start, end], oldest first."""
    rows = _rows(Series(venue, symbol, interval), start, end).order_by("open_time")
    # In chunks: a backtest reads hundreds of thousands, and the model rows need not all live at once.
    return [_value(row) for row in rows.iterator(chunk_size=READ_CHUNK)]


def newest_candles(
    venue: str, symbol: str, interval: str, start: datetime | None, end: datetime, limit: int
) -> list[Candle]:
    """The newest `limit` stored candles with open time in [start, end], newest first, as Bybit
    answers a kline query (no `start`: no lower bound)."""
    rows = _rows(Series(venue, symbol, interval), start, end).order_by("-open_time")[:limit]
    return [_value(row) for row in rows]


def stored_range(
    series: Series, start: datetime | None = None, end: datetime | None = None
) -> tuple[datetime, datetime] | None:
    """The first and last stored open times of a series within [start, end], if any."""
    rows = _rows(series, start, end).order_by("open_time")
    first = rows.values_list("open_time", flat=True).first()
    last = rows.values_list("open_time", flat=True).last()
    return None if first is None or last is None else (first, last)


def count_stored(series: Series, start: datetime | None = None, end: datetime | None = None) -> int:
    return _rows(series, start, end).count()


def save_candles(series: Series, candles: Iterable[Candle]) -> int:
    """Store candles not stored yet, in one transaction; returns how many were new. A candle
    already stored is kept as it is: an import never duplicates and never rewrites."""
    batch = [_model(series, candle) for candle in candles]
    if not batch:
        return 0
    first, last = min(row.open_time for row in batch), max(row.open_time for row in batch)
    with transaction.atomic():
        before = count_stored(series, first, last)
        StoredCandle.objects.bulk_create(batch, batch_size=INSERT_BATCH, ignore_conflicts=True)
        return count_stored(series, first, last) - before


def _model(series: Series, candle: Candle) -> StoredCandle:
    if intervals.floor(series.interval, candle.open_time) != candle.open_time:
        raise MisalignedCandle(
            f"A {series.interval} candle cannot open at {candle.open_time:%Y-%m-%d %H:%M:%S} UTC."
        )
    return StoredCandle(
        venue=series.venue,
        symbol=series.symbol,
        interval=series.interval,
        open_time=candle.open_time,
        open=candle.open,
        high=candle.high,
        low=candle.low,
        close=candle.close,
        volume=candle.volume,
    )


def find_gaps(venue: str, symbol: str, interval: str, start: datetime, end: datetime) -> list[Gap]:
    """Every run of open times in [start, end] with no stored candle, oldest first."""
    first, last = intervals.ceil(interval, start), intervals.floor(interval, end)
    gaps: list[Gap] = []
    expected = first
    stored = _rows(Series(venue, symbol, interval), first, last).order_by("open_time")
    for open_time in stored.values_list("open_time", flat=True).iterator(chunk_size=10_000):
        if open_time > expected:
            gaps.append(_gap(interval, expected, intervals.step(interval, open_time, -1)))
        expected = intervals.step(interval, open_time)
    if expected <= last:
        gaps.append(_gap(interval, expected, last))
    return gaps


def _gap(interval: str, first: datetime, last: datetime) -> Gap:
    return Gap(first, last, intervals.count_between(interval, first, last))
