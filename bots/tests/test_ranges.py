"""Auto range: a band around the price from the volatility of recent closes. Pure, no database."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bots.strategies import grid, ranges

D = Decimal
TICK = D("0.1")
FEE = D("0.001")


def zigzag(start: str, step: str, count: int) -> list[Decimal]:
    """Closes alternating up and down by `step` (a fraction): constant absolute log returns."""
    price, closes = D(start), []
    factor = 1 + D(step)
    for i in range(count):
        closes.append(price)
        price = price * factor if i % 2 == 0 else price / factor
    return closes


def test_log_returns_and_their_standard_deviation() -> None:
    returns = ranges.log_returns([D(100), D(110), D(100)])
    assert abs(returns[0] + returns[1]) < D("1e-25")
    assert abs(returns[0] - D("1.1").ln()) < D("1e-25")
    assert ranges.stdev([D(2), D(4), D(4), D(4), D(5), D(5), D(7), D(9)]) == (D(32) / 7).sqrt()


def test_a_known_volatility_gives_the_formula_band_on_the_tick_grid() -> None:
    closes = zigzag("50000", "0.01", 17)  # 16 returns of ±ln(1.01)
    suggestion = ranges.suggest_range(closes, D("50000"), TICK, FEE)
    sigma = ranges.stdev(ranges.log_returns(closes))
    half_width = 2 * sigma * D(16).sqrt()
    assert suggestion.volatility == sigma
    assert (
        suggestion.lower_price
        == (D("50000") * (-half_width).exp() / TICK).to_integral_value(rounding="ROUND_FLOOR") * TICK
    )
    assert (
        suggestion.upper_price
        == (D("50000") * half_width.exp() / TICK).to_integral_value(rounding="ROUND_CEILING") * TICK
    )
    assert suggestion.lower_price % TICK == 0
    assert suggestion.upper_price % TICK == 0
    # sigma ~ 1.03% per candle, the band ~ ±8.2%: 16 grids one sigma apart.
    assert suggestion.lower_price == D("46053.7")
    assert suggestion.upper_price == D("54284.4")
    assert suggestion.grid_count == 16


def test_calmer_markets_get_narrower_ranges() -> None:
    calm = ranges.suggest_range(zigzag("50000", "0.002", 40), D("50000"), TICK, FEE)
    wild = ranges.suggest_range(zigzag("50000", "0.02", 40), D("50000"), TICK, FEE)
    assert wild.lower_price < calm.lower_price < D("50000") < calm.upper_price < wild.upper_price


def test_a_wider_band_setting_widens_the_range() -> None:
    closes = zigzag("50000", "0.005", 30)
    narrow = ranges.suggest_range(closes, D("50000"), TICK, FEE, band_width=D(1))
    wide = ranges.suggest_range(closes, D("50000"), TICK, FEE, band_width=D(3))
    assert wide.upper_price - wide.lower_price > narrow.upper_price - narrow.lower_price


def test_a_flat_market_still_gets_a_one_percent_band() -> None:
    suggestion = ranges.suggest_range([D("100")] * 10, D("100"), D("0.01"), FEE)
    assert suggestion.lower_price == D("99.00")  # 100 * e^-0.01 = 99.005 -> floor to the tick
    assert suggestion.upper_price == D("101.01")  # 100 * e^0.01 = 101.005 -> ceiling to the tick
    # Fees of 0.1% want steps of at least 0.6%: ln(101.01 / 99) / 0.006 = 3.35.
    assert suggestion.grid_count == 3


def test_grid_steps_never_get_narrower_than_the_fees_allow() -> None:
    suggestion = ranges.suggest_range(zigzag("50000", "0.0001", 200), D("50000"), TICK, D("0.01"))
    step = (suggestion.upper_price / suggestion.lower_price).ln() / suggestion.grid_count
    assert step >= 3 * 2 * D("0.01")  # even though the market hardly moved
    assert suggestion.grid_count == grid.MIN_GRIDS


def test_extreme_volatility_keeps_the_lower_bound_above_zero_and_grids_in_bounds() -> None:
    suggestion = ranges.suggest_range(zigzag("1", "3", 60), D("1"), D("0.0001"), FEE)
    assert suggestion.lower_price > 0
    assert grid.MIN_GRIDS <= suggestion.grid_count <= grid.MAX_GRIDS


def test_the_suggestion_is_centred_on_the_current_price_not_the_history() -> None:
    closes = zigzag("50000", "0.01", 17)
    suggestion = ranges.suggest_range(closes, D("60000"), TICK, FEE)
    assert suggestion.lower_price < D("60000") < suggestion.upper_price
    assert suggestion.lower_price > D("50000")


def test_too_little_history_says_how_much_is_needed() -> None:
    with pytest.raises(ranges.NotEnoughData, match="at least 6 recent candles; this market has 5"):
        ranges.suggest_range([D("100")] * 5, D("100"), TICK, FEE)
    with pytest.raises(ranges.NotEnoughData):
        ranges.suggest_range([D("100"), D("0"), D("-1")] * 2, D("100"), TICK, FEE)


def test_a_nonsense_price_is_refused() -> None:
    with pytest.raises(ValueError, match="above zero"):
        ranges.suggest_range([D("100")] * 10, D("0"), TICK, FEE)
