"""Candle series shipped as gzipped CSV (exchanges/data/README.md): the one reader of them.

The paper market's replay feed and `import_candles` both read through here.
"""

from __future__ import annotations

import bisect
import csv
import functools
import gzip
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from django.conf import settings

from exchanges.base import Candle
from exchanges.market_data import intervals

# Where imported files are stored: the paper market replays this data, and the simulator serves it.
REPLAY_VENUE = "replay"
# `btcusdt-5m-2023-01-02--2023-02-09.csv.gz`: the symbol and interval come first in the name.
_NAME = re.compile(r"^(?P<symbol>[a-z0-9]+)-(?P<interval>\d+[mhdwM])-")


@dataclass(frozen=True)
class NamedSeries:
    symbol: str
    interval: str


def candle_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.csv.gz"))


def series_named_by(path: Path) -> NamedSeries | None:
    """The symbol and interval a file's name gives, if it follows the data directory's pattern."""
    match = _NAME.match(path.name)
    if match is None or match["interval"] not in intervals.WIDTHS:
        return None
    return NamedSeries(match["symbol"].upper(), match["interval"])


def newest_shipped(
    symbol: str, interval: str, start: datetime | None, end: datetime, limit: int
) -> list[Candle]:
    """Like `store.newest_candles` for the replay venue, read straight from the data directory's
    file of that series: what the simulator serves before the files are imported anywhere."""
    path = shipped_file(symbol, interval)
    if path is None:
        return []
    candles = read_candle_file(path)
    times = [candle.open_time for candle in candles]
    first = bisect.bisect_left(times, start) if start else 0
    stop = bisect.bisect_right(times, end)
    return list(reversed(candles[max(first, stop - limit) : stop]))


def shipped_file(symbol: str, interval: str) -> Path | None:
    """The data directory's file of a series, if one ships."""
    wanted = NamedSeries(symbol, interval)
    return next(
        (path for path in candle_files(Path(settings.PRICE_DATA_DIR)) if series_named_by(path) == wanted),
        None,
    )


def read_candle_file(path: Path) -> tuple[Candle, ...]:
    """Every candle of a file, in file order. Header: open_time_ms,open,high,low,close,volume."""
    return _read(str(path))


@functools.cache
def _read(path: str) -> tuple[Candle, ...]:
    with gzip.open(path, "rt", newline="") if path.endswith(".gz") else open(path, newline="") as handle:
        return tuple(
            Candle(
                open_time=datetime.fromtimestamp(int(row["open_time_ms"]) / 1000, tz=UTC),
                open=Decimal(row["open"]),
                high=Decimal(row["high"]),
                low=Decimal(row["low"]),
                close=Decimal(row["close"]),
                volume=Decimal(row["volume"]),
            )
            for row in csv.DictReader(handle)
        )
