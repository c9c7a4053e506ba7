"""Chart data for the pages: numbers as strings, for display only, never arithmetic."""

from __future__ import annotations

from collections.abc import Iterable

from exchanges.base import Candle
from trading.numbers import exact


def candle_points(candles: Iterable[Candle]) -> list[dict[str, int | str]]:
    """Candles as lightweight-charts reads them: Unix seconds and exact decimal strings."""
    return [
        {
            "time": int(candle.open_time.timestamp()),
            "open": exact(candle.open),
            "high": exact(candle.high),
            "low": exact(candle.low),
            "close": exact(candle.close),
        }
        for candle in candles
    ]
