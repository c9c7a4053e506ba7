"""Suggest a grid's range from recent volatility. Pure: no Django, no I/O, no floats.

The band is `price * exp(±k * sigma * sqrt(n))`, where `sigma` is the standard deviation of
the candles' log returns and `n` the number of returns: the move the market made over the whole
look-back window, widened `k` times. A grid sized to what the market did recently is neither
so narrow that the price leaves it at once nor so wide that it rarely trades.

The grid count spaces lines about one candle's typical move apart, but never closer than fees
allow a profit: each step must earn at least `MIN_FEE_MULTIPLE` round-trip fees (and a calm
market's band is widened until the fewest grids can).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal, localcontext

from bots.strategies.grid import MAX_GRIDS, MIN_GRIDS

DEFAULT_BAND_WIDTH = Decimal(2)  # k: standard deviations of the window's move on each side
MIN_RETURNS = 5  # fewer returns than this say nothing about volatility
MIN_HALF_WIDTH = Decimal("0.01")  # a flat market still gets a band of ±1%
MAX_HALF_WIDTH = Decimal("0.9")  # the lower bound stays well above zero
MIN_FEE_MULTIPLE = Decimal(3)  # one grid step earns at least three round-trip fees
MIN_STEP = Decimal("0.0001")  # with no fees at all, lines still a basis point apart


class NotEnoughData(ValueError):
    """Too few candles to measure volatility."""


@dataclass(frozen=True)
class RangeSuggestion:
    lower_price: Decimal
    upper_price: Decimal
    grid_count: int
    volatility: Decimal  # sigma of one candle's log return, a fraction


def log_returns(closes: Sequence[Decimal]) -> list[Decimal]:
    return [(current / previous).ln() for previous, current in itertools.pairwise(closes)]


def stdev(values: Sequence[Decimal]) -> Decimal:
    """Sample standard deviation (n - 1)."""
    if len(values) < 2:
        raise NotEnoughData("A standard deviation needs at least two values.")
    mean = sum(values, Decimal(0)) / len(values)
    variance = sum(((value - mean) ** 2 for value in values), Decimal(0)) / (len(values) - 1)
    return variance.sqrt()


def suggest_range(
    closes: Sequence[Decimal],
    price: Decimal,
    tick_size: Decimal,
    fee: Decimal,
    *,
    band_width: Decimal = DEFAULT_BAND_WIDTH,
) -> RangeSuggestion:
    """A range around `price` from recent `closes` (oldest first), on the tick grid.

    Raises `NotEnoughData` with fewer than `MIN_RETURNS + 1` positive closes."""
    if price <= 0 or tick_size <= 0:
        raise ValueError("The price and the tick size must be above zero.")
    usable = [close for close in closes if close > 0]
    if len(usable) < MIN_RETURNS + 1:
        raise NotEnoughData(
            f"Auto range needs at least {MIN_RETURNS + 1} recent candles; this market has {len(usable)}."
        )
    with localcontext() as context:
        context.prec = 28
        returns = log_returns(usable)
        sigma = stdev(returns)
        min_step = max(MIN_FEE_MULTIPLE * 2 * fee, MIN_STEP)
        # Wide enough for the fewest grids to pay their fees, however calm the market.
        floor = max(MIN_HALF_WIDTH, min_step * MIN_GRIDS / 2)
        half_width = min(max(band_width * sigma * Decimal(len(returns)).sqrt(), floor), MAX_HALF_WIDTH)
        lower = _to_tick(price * (-half_width).exp(), tick_size, ROUND_FLOOR)
        upper = _to_tick(price * half_width.exp(), tick_size, ROUND_CEILING)
        lower = max(lower, tick_size)
        upper = max(upper, lower + tick_size)
        step = max(sigma, min_step)
        count = _grid_count((upper / lower).ln() / step)
    return RangeSuggestion(lower_price=lower, upper_price=upper, grid_count=count, volatility=sigma)


def _to_tick(value: Decimal, tick_size: Decimal, rounding: str) -> Decimal:
    return (value / tick_size).to_integral_value(rounding=rounding) * tick_size


def _grid_count(ideal: Decimal) -> int:
    return max(MIN_GRIDS, min(MAX_GRIDS, math.floor(ideal)))
