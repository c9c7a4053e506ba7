"""A paper market's candles: its own ticks, and before its first tick, its feed's history.

A market that opened on a feed (its first tick replays feed position `p`) has a past: the
feed's points before `p`, each `POINT_SPAN` of market time, re-timed so that the last of them
ends where the market's own ticks begin. Charts and auto range so have candles from the
market's first minute, and those candles lead without a jump up to its price. A market whose
prices were set by hand (tests, benchmarks) has no such past: its candles are its ticks alone.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from exchanges.base import Candle
from exchanges.paper.feeds import POINT_SPAN, feed_for
from exchanges.paper.models import PaperTick

_EPOCH = datetime(2000, 1, 1)


@dataclass(frozen=True)
class _Move:
    """One step of the market: a tick, or one point of its history."""

    time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


def candles(symbol: str, width: timedelta, start: datetime, end: datetime) -> list[Candle]:
    """Candles of `width` whose open time lies in [start, end], oldest first."""
    until = end + width
    ticks = PaperTick.objects.filter(symbol=symbol, time__gte=start, time__lt=until).order_by("time", "id")
    moves = [
        _Move(time, price, price, price, price, volume)
        for time, price, volume in ticks.values_list("time", "price", "volume")
    ]
    return _bucket([*_history(symbol, start, until), *moves], width, start, end)


def _history(symbol: str, start: datetime, until: datetime) -> list[_Move]:
    """The feed's points before the market's first tick, re-timed to end at it, within [start, until)."""
    ticks = PaperTick.objects.filter(symbol=symbol).order_by("time", "id")
    first = ticks.values_list("time", "price", "position").first()
    if first is None:
        return []
    opened_at, opening_price, position = first
    if position is None or start >= opened_at:
        return []
    wanted = min(position, math.ceil((opened_at - start) / POINT_SPAN))
    # One point more on each side: the open of the oldest, and the market's first point itself.
    points = feed_for(symbol).history(position + 1, wanted + 2)
    if not points or points[-1].price != opening_price:
        return []  # another feed (or a hand) set this market's first price: its past is unknown
    moves = []
    steps = zip(reversed(points[:-2]), reversed(points[1:-1]), strict=True)  # (previous, point), newest first
    for back, (previous, point) in enumerate(steps, start=1):
        time = opened_at - POINT_SPAN * back
        if time < start:
            break
        if time < until:
            high = max(point.high, previous.price, point.price)
            low = min(point.low, previous.price, point.price)
            moves.append(_Move(time, previous.price, high, low, point.price, point.volume))
    return moves[::-1]


def _bucket(moves: Iterable[_Move], width: timedelta, start: datetime, end: datetime) -> list[Candle]:
    epoch = _EPOCH.replace(tzinfo=start.tzinfo)
    buckets: dict[datetime, list[_Move]] = defaultdict(list)
    for move in moves:
        open_time = epoch + ((move.time - epoch) // width) * width
        if start <= open_time <= end:
            buckets[open_time].append(move)
    return [
        Candle(
            open_time=open_time,
            open=found[0].open,
            high=max(move.high for move in found),
            low=min(move.low for move in found),
            close=found[-1].close,
            volume=sum((move.volume for move in found), Decimal(0)),
        )
        for open_time, found in sorted(buckets.items())
    ]
