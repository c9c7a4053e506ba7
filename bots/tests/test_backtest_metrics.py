"""Backtest metrics (bots/backtest/metrics.py) on cases worked out by hand. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bots.backtest import exact
from bots.backtest.exact import EquityPoint
from bots.backtest.metrics import (
    FLAT,
    NO_DOWNSIDE,
    NO_DRAWDOWN,
    NO_LOSSES,
    NO_SPAN,
    NO_TRADES,
    TOO_SHORT,
    annualised,
    calmar,
    calmar_note,
    daily_returns,
    max_drawdown,
    metrics,
    sharpe,
    sharpe_note,
    sortino,
    sortino_note,
)
from bots.backtest.venue import Fees
from bots.strategies.grid import GridConfig
from exchanges.base import Candle
from exchanges.paper.instruments import INSTRUMENTS

D = Decimal
T0 = datetime(2024, 1, 1, tzinfo=UTC)
HOUR = timedelta(hours=1)


def curve(*equities: str, step: timedelta = HOUR, unrealized: tuple[str, ...] = ()) -> list[EquityPoint]:
    return [
        EquityPoint(T0 + i * step, D(1), D(e), D(unrealized[i]) if unrealized else D(0))
        for i, e in enumerate(equities)
    ]


def test_max_drawdown_is_the_deepest_fall_from_an_earlier_peak_with_its_dates() -> None:
    points = curve("100", "120", "90", "110", "80", "130", "125")

    drawdown = max_drawdown(points)

    assert drawdown.value == D(40)
    assert drawdown.fraction == D(40) / D(120)
    assert (drawdown.start, drawdown.end) == (points[1].time, points[4].time)


def test_a_curve_that_never_falls_has_no_drawdown() -> None:
    drawdown = max_drawdown(curve("100", "100", "101"))
    assert (drawdown.value, drawdown.start, drawdown.end) == (0, None, None)


def test_daily_returns_use_each_days_last_close() -> None:
    points = curve("100", "500", "103", "1", "101.97", step=timedelta(hours=12))
    # Days: 1 Jan ends at 500, 2 Jan at 1, 3 Jan at 101.97: only the last point of a day counts.
    assert daily_returns(points) == [D(1) / 500 - 1, D("101.97") / 1 - 1]
    daily = curve("100", "103", "101.97", step=timedelta(days=1))
    assert daily_returns(daily) == [D("0.03"), D("-0.01")]


def test_sharpe_and_sortino_of_a_plus_three_minus_one_percent_pair() -> None:
    returns = [D("0.03"), D("-0.01")]
    # mean 0.01; sample deviation sqrt(0.0008) = 0.0282843; sqrt(365) = 19.10497
    assert float(sharpe(returns) or 0) == pytest.approx(0.01 / 0.0282843 * 19.10497, rel=1e-5)
    assert sortino(returns) is None, "one losing day is too few to measure downside risk"
    three_losses = [D("0.03"), D("-0.01"), D("0.02"), D("-0.01"), D("-0.01")]
    # mean 0.004; downside deviation sqrt(3 * 0.0001 / 5) = 0.00774597
    assert float(sortino(three_losses) or 0) == pytest.approx(0.004 / 0.00774597 * 19.10497, rel=1e-5)
    assert sortino([D("0.01"), D("0.02")]) is None, "no losing day: undefined"
    assert sharpe([D("0.01")]) is None


def test_annualising_is_simple_over_the_span() -> None:
    assert annualised(D("0.01"), timedelta(days=73)) == D("0.05")
    assert annualised(D("0.01"), timedelta(0)) is None


def test_the_small_hand_computed_grid_reports_its_figures() -> None:
    candles = [
        Candle(T0, D("99"), D("99.5"), D("89"), D("95"), D(1)),
        Candle(T0 + timedelta(days=1), D("95"), D("111"), D("94"), D("105"), D(1)),
        Candle(T0 + timedelta(days=2), D("105"), D("115"), D("104"), D("112"), D(1)),
    ]
    config = GridConfig("BTCUSDT", D(90), D(110), 2, D(1890))

    figures = metrics(exact.run(config, INSTRUMENTS["BTCUSDT"], candles, Fees(D(0), D(0))))

    # Equity by day: 1900 (20 BTC at 95), 2100 (all sold), 2100 (nothing fills above 110).
    assert figures.grid_profit == D(210)
    assert figures.total_return == D(210) / D(1890)
    assert figures.apr == D(210) / D(1890) * 365 / 3
    assert figures.fills == 4
    assert figures.round_trips == 2
    assert figures.profit_factor is None, "no trip lost money"
    assert figures.time_in_range == D(2) / D(3)
    assert figures.buy_and_hold_return == (D(112) - D(99)) / D(99)
    assert figures.max_drawdown.value == 0
    assert figures.calmar is None
    assert figures.max_floating_drawdown == D(0)  # 20 BTC cost 1890 and are worth 1900 at 95
    assert figures.fees == 0


def test_floating_drawdown_is_the_deepest_unrealised_loss() -> None:
    candles = [
        Candle(T0, D("99"), D("99.5"), D("89"), D("91"), D(1)),
        Candle(T0 + HOUR, D("91"), D("93"), D("85"), D("86"), D(1)),
        Candle(T0 + 2 * HOUR, D("86"), D("96"), D("86"), D("95"), D(1)),
    ]
    config = GridConfig("BTCUSDT", D(90), D(110), 2, D(1890))

    result = exact.run(config, INSTRUMENTS["BTCUSDT"], candles, Fees(D(0), D(0)))
    figures = metrics(result)

    # 10 BTC at 99 and 10 at 90 (cost 1890), worth 20 * 86 = 1720 at the lowest close.
    assert figures.max_floating_drawdown == D(170)
    assert figures.max_floating_drawdown_fraction == D(170) / D(1890)
    assert figures.max_drawdown.value == D(170)
    assert (figures.max_drawdown.start, figures.max_drawdown.end) == (T0, candles[1].open_time)


# Edge cases: a ratio that would mean nothing is None with a reason, never a huge number -----------


def test_sortino_of_one_tiny_losing_day_is_undefined_rather_than_a_million() -> None:
    returns = [D("0.01"), D("-0.0000001"), D("0.012"), D("-0.0000001"), D("0.011"), D("-0.0000002")]
    # The old formula: a mean of 0.005 over a downside deviation of 1e-7 gives about 1e6.
    assert sortino(returns) is None
    assert sortino_note(returns) == NO_DOWNSIDE
    assert sharpe(returns) is not None, "Sharpe's deviation is real here"


def test_flat_equity_has_no_sharpe_nor_sortino() -> None:
    returns = [D(0), D(0), D(0)]
    assert (sharpe(returns), sortino(returns)) == (None, None)
    assert sharpe_note(returns) == FLAT


def test_one_day_is_too_short_for_any_daily_ratio() -> None:
    assert sharpe_note([D("0.01")]) == TOO_SHORT
    assert sortino_note([]) == TOO_SHORT


def test_calmar_needs_a_real_drawdown_and_a_span() -> None:
    none = max_drawdown(curve("100", "100", "101"))
    assert calmar(D("0.5"), none) is None
    assert calmar_note(D("0.5"), none) == NO_DRAWDOWN
    assert calmar_note(None, none) == NO_SPAN
    fall = max_drawdown(curve("100", "90"))
    assert calmar(D("0.5"), fall) == D("0.5") / D("0.1")


def _one_day_candles(*prices: str) -> list[Candle]:
    return [Candle(T0 + i * HOUR, D(p), D(p), D(p), D(p), D(1)) for i, p in enumerate(prices)]


def test_a_grid_that_never_trades_reports_reasons_not_numbers() -> None:
    # Far above the range: the start buys nothing to sell and no level is ever crossed.
    config = GridConfig("BTCUSDT", D(90), D(110), 2, D(1890))
    candles = _one_day_candles("200", "200", "200")

    figures = metrics(exact.run(config, INSTRUMENTS["BTCUSDT"], candles, Fees(D(0), D(0))))

    assert (figures.round_trips, figures.total_return) == (0, 0)
    assert (figures.sharpe, figures.sortino, figures.calmar, figures.profit_factor) == (None,) * 4
    assert figures.notes == {
        "sharpe": TOO_SHORT,
        "sortino": TOO_SHORT,
        "calmar": NO_DRAWDOWN,
        "profit_factor": NO_TRADES,
    }


def test_defined_ratios_carry_no_note() -> None:
    candles = [
        Candle(T0, D("99"), D("99.5"), D("89"), D("95"), D(1)),
        Candle(T0 + timedelta(days=1), D("95"), D("111"), D("94"), D("105"), D(1)),
        Candle(T0 + timedelta(days=2), D("105"), D("115"), D("104"), D("112"), D(1)),
    ]
    config = GridConfig("BTCUSDT", D(90), D(110), 2, D(1890))

    figures = metrics(exact.run(config, INSTRUMENTS["BTCUSDT"], candles, Fees(D(0), D(0))))

    assert figures.round_trips > 0
    assert figures.profit_factor is None
    assert figures.notes["profit_factor"] == NO_LOSSES
    assert "calmar" not in figures.notes or figures.calmar is None
