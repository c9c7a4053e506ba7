"""Candle intervals of the store: their names, widths and calendar alignment.

Candles open on boundaries counted from the Unix epoch, as Bybit's do: minutes and hours
from midnight UTC, weeks on Mondays, months on the first day. Months have no fixed width,
so stepping goes through `step` rather than arithmetic on a timedelta.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_FIRST_MONDAY = datetime(1970, 1, 5, tzinfo=UTC)
MONTH = "1M"
WEEK = "1w"
# Every interval Bybit's kline endpoint serves, by the name the store uses; None: a calendar month.
WIDTHS: dict[str, timedelta | None] = {
    "1m": timedelta(minutes=1),
    "3m": timedelta(minutes=3),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "30m": timedelta(minutes=30),
    "1h": timedelta(hours=1),
    "2h": timedelta(hours=2),
    "4h": timedelta(hours=4),
    "6h": timedelta(hours=6),
    "12h": timedelta(hours=12),
    "1d": timedelta(days=1),
    WEEK: timedelta(weeks=1),
    MONTH: None,
}


class UnknownInterval(ValueError):
    def __init__(self, interval: str) -> None:
        super().__init__(f"Unknown candle interval {interval!r}; use one of {', '.join(WIDTHS)}.")


def check(interval: str) -> str:
    if interval not in WIDTHS:
        raise UnknownInterval(interval)
    return interval


def floor(interval: str, moment: datetime) -> datetime:
    """The open time of the candle containing `moment`."""
    width = WIDTHS[check(interval)]
    if width is None:
        return moment.astimezone(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    origin = _FIRST_MONDAY if interval == WEEK else _EPOCH
    return origin + width * ((moment - origin) // width)


def ceil(interval: str, moment: datetime) -> datetime:
    """The first open time at or after `moment`."""
    opened = floor(interval, moment)
    return opened if opened == moment else step(interval, opened)


def step(interval: str, open_time: datetime, count: int = 1) -> datetime:
    """The open time `count` candles after `open_time` (before, when negative)."""
    width = WIDTHS[check(interval)]
    if width is not None:
        return open_time + width * count
    months = open_time.year * 12 + open_time.month - 1 + count
    return open_time.replace(year=months // 12, month=months % 12 + 1)


def count_between(interval: str, first: datetime, last: datetime) -> int:
    """How many open times lie in [first, last], both aligned open times."""
    if last < first:
        return 0
    width = WIDTHS[check(interval)]
    if width is None:
        return (last.year - first.year) * 12 + last.month - first.month + 1
    return (last - first) // width + 1
