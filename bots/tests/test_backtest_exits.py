"""Exact mode takes the strategy's exit rules as the live engine does (bots/backtest/exact.py):
the run ends at the candle that crosses the rule, with the sale booked; the fast kernel models
no exit and says so. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from bots.backtest import exact, kernel, optimise
from bots.backtest.venue import Fees
from bots.strategies.base import EXIT_LOT, ExitAction, ExitReason
from bots.strategies.grid import GridConfig
from exchanges.base import Candle, Side
from exchanges.paper.instruments import INSTRUMENTS

D = Decimal
BTC = INSTRUMENTS["BTCUSDT"]
T0 = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)
NO_FEES = Fees(D(0), D(0))


def candles(*rows: tuple[str, str, str, str]) -> list[Candle]:
    return [Candle(T0 + i * STEP, D(o), D(h), D(low), D(c), D(1)) for i, (o, h, low, c) in enumerate(rows)]


def small_grid(**overrides: object) -> GridConfig:
    # Lines 90, 100, 110; started at 99: a buy at 90, a sell at 110, 10 BTC per order.
    values: dict[str, object] = {
        "symbol": "BTCUSDT",
        "lower_price": D(90),
        "upper_price": D(110),
        "grid_count": 2,
        "investment": D(1890),
    }
    values.update(overrides)
    return GridConfig(**values)  # type: ignore[arg-type]


FALL = candles(
    ("99", "99.5", "89", "95"),  # the buy at 90 fills: 20 BTC held
    ("95", "96", "84", "86"),  # up to 96 first, then down through the stop at 85, to 84
    ("86", "120", "80", "100"),  # never walked: the bot has stopped
)


def test_a_stop_loss_ends_the_backtest_at_the_candle_that_crosses_it_with_the_sale_booked() -> None:
    result = exact.run(small_grid(stop_loss_price=D(85)), BTC, FALL, NO_FEES)

    assert result.exit_reason is ExitReason.STOP_LOSS
    assert result.exited_at == T0 + STEP
    assert result.exit_price == D(84)  # the path point where the rule was seen crossed
    assert [(f.side, f.price, f.quantity, f.is_maker, f.time) for f in result.fills] == [
        (Side.BUY, D(99), D(10), False, T0),
        (Side.BUY, D(90), D(10), True, T0),
        (Side.SELL, D(84), D(20), False, T0 + STEP),  # the exit: everything, at market
    ]
    assert len(result.equity_curve) == 2  # ends with the crossing candle
    assert result.end == T0 + 2 * STEP
    assert result.last_price == D(84)
    # 1,890 spent on 20 BTC (10 at 99, 10 at 90), sold at 84: 1,680 of quote, nothing else.
    assert result.equity == D(1680) == result.equity_curve[-1].equity
    assert result.total_pnl == D(-210)
    assert result.unrealized == 0


def test_the_exit_sale_pays_the_taker_fee_and_the_books_still_balance() -> None:
    fees = Fees(D("0.0002"), D("0.001"))
    result = exact.run(small_grid(stop_loss_price=D(85)), BTC, FALL, fees, slippage=D("0.001"))

    sale = result.fills[-1]
    assert (sale.side, sale.is_maker, sale.price) == (Side.SELL, False, D("83.9"))  # 84 less 0.1%, tick down
    assert sale.fee == sale.quantity * sale.price * D("0.001")
    # exact.run checks grid profit + unrealised - fees == equity - investment at the mark.
    assert result.summary.equity == result.equity_curve[-1].equity


def test_a_stop_that_keeps_the_base_cancels_the_orders_and_sells_nothing() -> None:
    config = small_grid(stop_loss_price=D(85), stop_loss_action=ExitAction.KEEP_BASE)
    result = exact.run(config, BTC, FALL, NO_FEES)

    assert result.exit_reason is ExitReason.STOP_LOSS
    assert [f.price for f in result.fills] == [D(99), D(90)]
    assert result.equity == 20 * D(84)


def test_a_take_profit_ends_the_run_once_the_rise_reaches_it() -> None:
    series = candles(
        ("99", "99.5", "89", "95"),
        ("95", "116", "94", "105"),  # down first, then up through 100, 110 and the take-profit at 115
    )
    result = exact.run(small_grid(take_profit_price=D(115)), BTC, series, NO_FEES)

    assert result.exit_reason is ExitReason.TAKE_PROFIT
    assert result.exit_price == D(116)
    sells = [(f.price, f.quantity) for f in result.fills if f.side is Side.SELL]
    assert sells == [(D(100), D(10)), (D(110), D(10))]  # nothing left to sell at the exit
    assert result.grid_profit == D(210)


def test_the_exit_lot_is_the_live_engines() -> None:
    from bots import engine

    assert engine.EXIT_LOT == EXIT_LOT


def test_the_kernel_refuses_exit_rules_it_does_not_model_and_the_optimiser_falls_back() -> None:
    config = small_grid(stop_loss_price=D(85))
    with pytest.raises(ValueError, match=r"[Ss]top-loss"):
        kernel.run(config, BTC, kernel.CandleArrays.of(FALL, BTC.tick_size), NO_FEES)
    # The optimiser drops what the kernel refuses; its exact recheck runs the exit.
    assert optimise.evaluate(0, config, BTC, kernel.CandleArrays.of(FALL, BTC.tick_size), NO_FEES) is None
    assert optimise.recheck(
        config, BTC, kernel.CandleArrays.of(FALL, BTC.tick_size), NO_FEES
    ).exit_reason is (ExitReason.STOP_LOSS)


def test_without_exit_rules_exact_mode_and_the_kernel_still_agree() -> None:
    series = candles(("99", "99.5", "89", "95"), ("95", "111", "94", "105"), ("105", "106", "88", "92"))
    config = small_grid()
    expected = exact.run(config, BTC, series, NO_FEES)
    got = kernel.run(config, BTC, kernel.CandleArrays.of(series, BTC.tick_size), NO_FEES)
    assert got.final_equity == expected.equity
    assert got.fill_count == len([f for f in expected.fills if f.is_maker])  # the start trade apart
