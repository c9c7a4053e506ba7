"""Chart data for the pages: numbers as strings, for display only, never arithmetic."""

from __future__ import annotations

from collections.abc import Iterable

from bots.engine import plain
from exchanges.base import Candle


def candle_points(candles: Iterable[Candle]) -> list[dict[str, int | str]]:
    """Candles as lightweight-charts reads them: Unix seconds and exact decimal strings."""
    return [
        {
            "time": int(candle.open_time.timestamp()),
            "open": plain(candle.open),
            "high": plain(candle.high),
            "low": plain(candle.low),
            "close": plain(candle.close),
        }
        for candle in candles
    ]
