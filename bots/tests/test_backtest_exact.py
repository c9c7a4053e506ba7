"""Exact-mode backtests (bots/backtest/exact.py): hand-computed fills, no lookahead, and the
ledger's money identity over the shipped 5-minute series. Pure: no database."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bots.backtest import exact
from bots.backtest.venue import Fees
from bots.strategies.grid import Direction, GridConfig, GridConfigError
from exchanges.base import Candle, Side
from exchanges.market_data.files import read_candle_file
from exchanges.paper.instruments import INSTRUMENTS

D = Decimal
BTC = INSTRUMENTS["BTCUSDT"]
T0 = datetime(2024, 1, 1, tzinfo=UTC)
FIVE_MINUTES = Path(__file__).resolve().parents[2] / "exchanges/data/btcusdt-5m-2023-01-02--2023-02-09.csv.gz"
NO_FEES = Fees(D(0), D(0))


def candles(*rows: tuple[str, str, str, str], step: timedelta = timedelta(minutes=5)) -> list[Candle]:
    return [Candle(T0 + i * step, D(o), D(h), D(low), D(c), D(1)) for i, (o, h, low, c) in enumerate(rows)]


def small_grid(**overrides: object) -> GridConfig:
    values: dict[str, object] = {
        "symbol": "BTCUSDT",
        "lower_price": D(90),
        "upper_price": D(110),
        "grid_count": 2,
        "investment": D(1890),
    }
    values.update(overrides)
    return GridConfig(**values)  # type: ignore[arg-type]


def test_a_small_grid_trades_as_computed_by_hand() -> None:
    # Lines 90, 100, 110; started at 99: a buy at 90, a sell at 110, and 10 BTC per order (the
    # investment is exactly 10 * 90 for the buy plus 10 * 99 for the sell's base).
    series = candles(
        ("99", "99.5", "89", "95"),  # up first (nearer), then down through the buy at 90
        ("95", "111", "94", "105"),  # down first, then up through the sells at 100 and 110
    )

    result = exact.run(small_grid(), BTC, series, NO_FEES)

    assert [(f.side, f.price, f.quantity, f.is_maker, f.time, f.leg) for f in result.fills] == [
        (Side.BUY, D(99), D(10), False, T0, 0),  # the start trade, at the open
        (Side.BUY, D(90), D(10), True, T0, 2),
        (Side.SELL, D(100), D(10), True, T0 + timedelta(minutes=5), 2),
        (Side.SELL, D(110), D(10), True, T0 + timedelta(minutes=5), 2),
    ]
    # Round trips: 90 -> 100 earns 100; the start lot (10 at 99) sold at 110 earns 110.
    assert result.grid_profit == D(210)
    assert result.unrealized == 0
    assert result.total_pnl == D(210)
    assert result.summary.round_trips == 2
    assert [p.equity for p in result.equity_curve] == [
        D(1890) + 10 * (D(95) - 99) + 10 * (D(95) - 90),  # 20 BTC held at the first close
        D(2100),
    ]
    counter_orders = [(p.side, p.price, p.interval, p.time) for p in result.placements[2:]]
    assert counter_orders == [
        (Side.SELL, D(100), 0, T0),
        (Side.BUY, D(90), 0, T0 + timedelta(minutes=5)),
        (Side.BUY, D(100), 1, T0 + timedelta(minutes=5)),
    ]


def test_fees_are_maker_on_grid_fills_and_taker_on_the_start_trade() -> None:
    fees = Fees(D("0.0002"), D("0.001"))
    series = candles(("99", "99.5", "89", "95"), ("95", "111", "94", "105"))

    result = exact.run(small_grid(), BTC, series, fees)

    start, *grid_fills = result.fills
    assert (start.is_maker, start.fee) == (False, start.quantity * D("0.001"))
    for fill in grid_fills:
        expected = (
            fill.quantity * fees.maker if fill.side is Side.BUY else fill.quantity * fill.price * fees.maker
        )
        assert (fill.is_maker, fill.fee) == (True, expected)
    assert result.fees > 0
    assert result.total_pnl == result.grid_profit + result.unrealized  # fees netted, as in the ledger


def test_slippage_makes_the_start_trade_dearer_and_the_books_still_balance() -> None:
    series = candles(("99", "99.5", "89", "95"), ("95", "111", "94", "105"))

    result = exact.run(small_grid(), BTC, series, NO_FEES, slippage=D("0.002"))

    assert result.fills[0].price == D("99.2")  # 99 * 1.002 = 99.198, up to the tick
    assert result.grid_profit == D(100) + 10 * (D(110) - D("99.2"))


def test_later_candles_change_no_earlier_fill_or_decision() -> None:
    series = list(read_candle_file(FIVE_MINUTES)[:3000])
    config = GridConfig("BTCUSDT", D(16000), D(18000), 40, D(5000))
    cut = 2000
    altered = series[:cut] + [
        replace(c, open=c.open * 2, high=c.high * 2, low=c.low / 3, close=c.close / 2) for c in series[cut:]
    ]

    original, shifted = exact.run(config, BTC, series), exact.run(config, BTC, altered)

    boundary = series[cut].open_time
    before = [f for f in original.fills if f.time < boundary]
    assert before, "the window must trade for the check to mean anything"
    assert [f for f in shifted.fills if f.time < boundary] == before
    assert [p for p in shifted.placements if p.time < boundary] == [
        p for p in original.placements if p.time < boundary
    ]
    assert shifted.equity_curve[:cut] == original.equity_curve[:cut]
    assert [f for f in shifted.fills if f.time >= boundary] != [
        f for f in original.fills if f.time >= boundary
    ]


def test_the_books_balance_to_the_last_unit_over_the_shipped_five_minute_series() -> None:
    series = read_candle_file(FIVE_MINUTES)
    for config in (
        GridConfig("BTCUSDT", D(16000), D(24000), 60, D(10000)),
        GridConfig("BTCUSDT", D(15000), D(25000), 30, D(3000), direction=Direction.SHORT),
    ):
        result = exact.run(config, BTC, series)

        summary = result.summary
        assert len(result.fills) > 100
        assert summary.grid_profit + summary.unrealized_pnl - summary.fees_not_netted == (
            summary.equity - summary.investment
        )
        assert result.equity_curve[-1].equity == summary.equity
        assert result.equity_curve[-1].unrealized == summary.unrealized_pnl
        assert len(result.equity_curve) == len(series)


def test_a_trigger_price_starts_the_grid_at_the_first_open_that_reaches_it() -> None:
    series = candles(
        ("99", "99.5", "95", "96"),
        ("96", "97", "93", "94"),  # touches 95 within the candle, but the open is 96
        ("94", "95", "92", "93"),
    )

    result = exact.run(small_grid(trigger_price=D(95)), BTC, series, NO_FEES)

    assert result.started_at == series[2].open_time
    assert result.start_price == D(94)
    assert [p.equity for p in result.equity_curve[:2]] == [D(1890), D(1890)]


def test_configs_the_backtester_cannot_honour_are_refused_with_the_reason() -> None:
    series = candles(("99", "99.5", "89", "95"))
    with pytest.raises(GridConfigError):
        exact.run(small_grid(investment=D(5)), BTC, series)
    with pytest.raises(ValueError, match="at least one candle"):
        exact.run(small_grid(), BTC, [])


def test_the_backtester_imports_no_django() -> None:
    probe = (
        "import sys, bots.backtest.exact, bots.backtest.metrics, bots.backtest.venue\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, cwd=Path(__file__).resolve().parents[2])
