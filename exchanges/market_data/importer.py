"""Filling the candle store: from a venue's klines, page by page, or from a candle file.

Each page is committed on its own, so an interrupted import keeps what it stored and the next
run continues after the last stored candle. The unique series key makes a repeated page
harmless: nothing is ever stored twice.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from exchanges.base import KLINES_MAX, Candle, Exchange
from exchanges.market_data import intervals, store
from exchanges.market_data.files import read_candle_file
from exchanges.market_data.store import Gap, Series

# Called with (candles done, candles in all) as an import moves on.
Progress = Callable[[int, int], None]


class NothingToResume(ValueError):
    pass


def _no_progress(done: int, total: int) -> None:
    pass


@dataclass
class ImportReport:
    series: Series
    read: int = 0
    stored: int = 0
    first: datetime | None = None
    last: datetime | None = None
    seconds: float = 0.0
    gaps: list[Gap] = field(default_factory=list)

    @property
    def already_stored(self) -> int:
        return self.read - self.stored

    @property
    def rows_per_second(self) -> float:
        return self.read / self.seconds if self.seconds else 0.0

    @property
    def missing(self) -> int:
        return sum(gap.missing for gap in self.gaps)


def import_from_exchange(
    exchange: Exchange,
    series: Series,
    start: datetime | None,
    end: datetime,
    *,
    progress: Progress = _no_progress,
    now: datetime | None = None,
) -> ImportReport:
    """Closed candles of `series` from `start` (or after the last stored one) to `end`."""
    interval = series.interval
    # The candle still forming would be stored half-made and never corrected.
    last_closed = intervals.step(interval, intervals.floor(interval, now or datetime.now(UTC)), -1)
    end = min(intervals.floor(interval, end), last_closed)
    cursor = resume_point(series, start, end)
    report = ImportReport(series, first=cursor, last=end)
    began = time.monotonic()
    total, done = intervals.count_between(interval, cursor, end), 0
    progress(0, total)
    while cursor <= end:
        window_end = min(intervals.step(interval, cursor, KLINES_MAX - 1), end)
        page = exchange.klines(series.symbol, interval, cursor, window_end, KLINES_MAX)
        page = [candle for candle in page if cursor <= candle.open_time <= window_end]
        report.read += len(page)
        report.stored += store.save_candles(series, page)
        done += intervals.count_between(interval, cursor, window_end)
        progress(done, total)
        cursor = intervals.step(interval, window_end)
    report.seconds = time.monotonic() - began
    report.gaps = store.find_gaps(*_gap_range(series, start, end))
    return report


def resume_point(series: Series, start: datetime | None, end: datetime) -> datetime:
    """Where an import of [start, end] begins: after the last stored candle, unless the store
    lacks the range's beginning (then at `start`, the stored part re-read but not re-stored)."""
    stored = store.stored_range(series, start, end)
    if stored is None:
        if start is None:
            raise NothingToResume(f"No {series} candles are stored yet: give a start for the first import.")
        return intervals.ceil(series.interval, start)
    first, last = stored
    if start is not None and first > intervals.ceil(series.interval, start):
        return intervals.ceil(series.interval, start)
    return intervals.step(series.interval, last)


def _gap_range(
    series: Series, start: datetime | None, end: datetime
) -> tuple[str, str, str, datetime, datetime]:
    if start is None:
        stored = store.stored_range(series, None, end)
        start = stored[0] if stored else end
    return series.venue, series.symbol, series.interval, start, end


def import_from_file(
    path: Path,
    series: Series,
    start: datetime | None = None,
    end: datetime | None = None,
    *,
    progress: Progress = _no_progress,
) -> ImportReport:
    """A candle file's rows (those in [start, end] when given) into the store."""
    began = time.monotonic()
    candles = [
        candle
        for candle in read_candle_file(path)
        if (start is None or candle.open_time >= start) and (end is None or candle.open_time <= end)
    ]
    report = ImportReport(series, read=len(candles))
    progress(0, len(candles))
    report.stored = _save_in_pages(series, candles, progress)
    report.seconds = time.monotonic() - began
    if candles:
        report.first = min(candle.open_time for candle in candles)
        report.last = max(candle.open_time for candle in candles)
        report.gaps = store.find_gaps(series.venue, series.symbol, series.interval, report.first, report.last)
    return report


def _save_in_pages(series: Series, candles: Sequence[Candle], progress: Progress) -> int:
    stored = done = 0
    for offset in range(0, len(candles), KLINES_MAX):
        page = candles[offset : offset + KLINES_MAX]
        stored += store.save_candles(series, page)
        done += len(page)
        progress(done, len(candles))
    return stored
