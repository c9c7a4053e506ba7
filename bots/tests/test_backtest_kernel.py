"""The fast kernel (bots/backtest/kernel.py) agrees with exact mode: the same fills (side, level,
candle, leg, quantity), the same grid profit to 1e-8 relative and the same fees, on the shipped
series and on seeded random walks, long and reverse, arithmetic and geometric. Pure: no database."""

from __future__ import annotations

import math
import random
import subprocess
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, Decimal
from pathlib import Path

import numpy as np
import pytest

from bots.backtest import exact, kernel
from bots.backtest.venue import Fees
from bots.strategies.grid import Direction, GridConfig, Spacing, grid_lines, minimum_investment
from exchanges.base import Candle, Instrument, InsufficientBalance
from exchanges.market_data.files import read_candle_file
from exchanges.paper.instruments import INSTRUMENTS

D = Decimal
BTC = INSTRUMENTS["BTCUSDT"]
DATA = Path(__file__).resolve().parents[2] / "exchanges/data"
FIVE_MINUTES = DATA / "btcusdt-5m-2023-01-02--2023-02-09.csv.gz"
ONE_HOUR = DATA / "btcusd-1h-2017-07-01--2019-10-17.csv.gz"
OHLC = ("open", "high", "low", "close")
SHAPES = [(d, s) for d in Direction for s in Spacing]


def random_walk(count: int, seed: int, volatility: float = 0.002) -> list[Candle]:
    """Candles of a seeded geometric random walk around 20,000, on BTCUSDT's tick."""
    rng = random.Random(seed)
    moment, price = datetime(2024, 1, 1, tzinfo=UTC), 20000.0
    candles = []
    for _ in range(count):
        close = price * math.exp(rng.gauss(0, volatility))
        high = max(price, close) * (1 + abs(rng.gauss(0, volatility)))
        low = min(price, close) * (1 - abs(rng.gauss(0, volatility)))
        candles.append(Candle(moment, _tick(price), _tick(high), _tick(low), _tick(close), D(1)))
        price, moment = close, moment + timedelta(minutes=1)
    return candles


def _tick(value: float) -> Decimal:
    return D(f"{value:.1f}")


def assert_agree(
    config: GridConfig,
    candles: list[Candle] | tuple[Candle, ...],
    fees: Fees | None = None,
    instrument: Instrument = BTC,
    *,
    minimum_fills: int = 50,
) -> kernel.KernelResult:
    expected = exact.run(config, instrument, candles, fees)
    got = kernel.run(config, instrument, kernel.CandleArrays.of(candles, instrument.tick_size), fees)

    index = {candle.open_time: i for i, candle in enumerate(candles)}
    lines = grid_lines(config, instrument)
    grid_fills = [f for f in expected.fills if f.is_maker]
    assert len(grid_fills) >= minimum_fills, "the series must trade in earnest for agreement to mean much"
    assert [(f.side, lines.index(f.price), index[f.time], f.leg, f.quantity) for f in grid_fills] == [
        (f.side, f.level, f.candle, f.leg, f.quantity) for f in got.fills
    ]
    assert [f.interval for f in grid_fills] == [f.interval for f in got.fills]
    assert got.fees == expected.fees
    assert got.fees_by_asset == expected.summary.fees_by_asset
    assert got.round_trips == expected.summary.round_trips
    assert abs(got.grid_profit - expected.grid_profit) <= abs(expected.grid_profit) * D("1e-8")
    assert got.start_index == (index[expected.started_at] if expected.started_at else None)
    assert got.final_equity == expected.equity
    curve = np.array([float(point.equity) for point in expected.equity_curve])
    assert np.allclose(got.equity, curve, rtol=1e-12, atol=0)
    return got


@pytest.mark.parametrize(("direction", "spacing"), SHAPES)
def test_the_kernel_agrees_with_exact_mode_over_the_shipped_five_minute_series(
    direction: Direction, spacing: Spacing
) -> None:
    config = GridConfig("BTCUSDT", D(16000), D(24000), 60, D(10000), spacing=spacing, direction=direction)
    assert_agree(config, read_candle_file(FIVE_MINUTES), minimum_fills=400)


@pytest.mark.parametrize(("direction", "spacing"), SHAPES)
def test_the_kernel_agrees_with_exact_mode_over_the_shipped_hourly_series(
    direction: Direction, spacing: Spacing
) -> None:
    # 2017-2019: from 2,500 up to 19,000 and back down, so the grid also waits out of range.
    config = GridConfig("BTCUSDT", D(3000), D(12000), 80, D(50000), spacing=spacing, direction=direction)
    assert_agree(config, read_candle_file(ONE_HOUR), minimum_fills=1000)


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize(("direction", "spacing"), SHAPES)
def test_the_kernel_agrees_with_exact_mode_on_random_walks(
    direction: Direction, spacing: Spacing, seed: int
) -> None:
    candles = random_walk(4000, seed)
    lower = min(c.low for c in candles).quantize(D(1)) - 50
    upper = max(c.high for c in candles).quantize(D(1)) + 50
    config = GridConfig(
        "BTCUSDT", lower, upper, 40 + 15 * seed, D(100000), spacing=spacing, direction=direction
    )
    assert_agree(config, candles)


@pytest.mark.parametrize("direction", list(Direction))
def test_the_kernel_agrees_with_other_fee_rates_and_a_trigger_price(direction: Direction) -> None:
    candles = random_walk(3000, 11)
    lower = min(c.low for c in candles).quantize(D(1))
    upper = max(c.high for c in candles).quantize(D(1)) + 1
    trigger = candles[400].high + 1  # above the first open: waits for a rise to it
    config = GridConfig("BTCUSDT", lower, upper, 70, D(80000), direction=direction, trigger_price=trigger)

    got = assert_agree(config, candles, Fees(D("0.0002"), D("0.00055")))

    assert got.start_index is not None
    assert got.start_index > 0


def test_a_series_that_fills_more_than_the_first_guess_still_agrees() -> None:
    # Every candle sweeps the whole 100-level range: about 200 fills a candle.
    rows = [("20000", "20990", "19010", "20000")] * 60
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    candles = [
        Candle(moment + timedelta(minutes=i), D(o), D(h), D(low), D(c), D(1))
        for i, (o, h, low, c) in enumerate(rows)
    ]
    config = GridConfig("BTCUSDT", D(19000), D(21000), 100, D(100000))

    got = assert_agree(config, candles, Fees(D(0), D(0)), minimum_fills=10000)

    assert len(got.fills) > 1024 + len(candles) // 8


def test_grids_too_narrow_to_pay_their_fees_run_out_of_quote_in_both_modes() -> None:
    # 0.1% apart with 0.1% fees on each side: every round trip returns less quote than its buy.
    moment = datetime(2024, 1, 1, tzinfo=UTC)
    candles = [
        Candle(moment + timedelta(minutes=i), D(20000), D(20990), D(19010), D(20000), D(1)) for i in range(60)
    ]
    config = GridConfig("BTCUSDT", D(19000), D(21000), 100, D(100000))

    with pytest.raises(InsufficientBalance):
        exact.run(config, BTC, candles)
    with pytest.raises(InsufficientBalance, match="too narrow"):
        kernel.run(config, BTC, kernel.CandleArrays.of(candles, BTC.tick_size))


def test_a_trigger_below_the_first_open_waits_for_a_fall_to_it() -> None:
    candles = random_walk(3000, 12)
    lower = min(c.low for c in candles).quantize(D(1))
    upper = max(c.high for c in candles).quantize(D(1)) + 1
    trigger = min(c.open for c in candles[:1500]) + D("0.05")  # between ticks: the next open below it
    config = GridConfig("BTCUSDT", lower, upper, 60, D(80000), trigger_price=trigger)

    got = assert_agree(config, candles, minimum_fills=20)

    assert got.start_index is not None
    assert candles[got.start_index].open < trigger


def test_a_series_built_from_integer_columns_needs_no_candle_objects() -> None:
    candles = random_walk(500, 8)
    from_candles = kernel.CandleArrays.of(candles, BTC.tick_size)
    columns = kernel.CandleArrays(
        D("0.1"),
        from_candles.open_time_ms.copy(),
        *(np.array([int(getattr(c, name) * 10) for c in candles], dtype=np.int64) for name in OHLC),
    )
    config = GridConfig("BTCUSDT", D(19000), D(21000), 50, D(50000))

    assert [columns.candle(i) for i in (0, 250, -1)] == [
        replace(candles[i], volume=D(0)) for i in (0, 250, -1)
    ]
    got, expected = kernel.run(config, BTC, columns), kernel.run(config, BTC, from_candles)
    assert got == expected
    assert got.fills == expected.fills
    assert got.fill_count > 10


def test_a_candle_whose_high_and_low_do_not_hold_its_open_and_close_is_refused() -> None:
    moment = datetime(2024, 3, 1, 12, 5, tzinfo=UTC)
    candles = [Candle(moment, D(100), D(101), D(99), D(100), D(1))] * 3
    candles[1] = Candle(moment, D(100), D(101), D("100.5"), D(100), D(1))

    with pytest.raises(ValueError, match="2024-03-01T12:05:00"):
        kernel.CandleArrays.of(candles, BTC.tick_size)


def test_the_kernel_agrees_when_fee_dust_leaves_intervals_without_an_order() -> None:
    # A 0.01 BTC minimum order and a maker fee above the taker fee the sizing allowed for: what a
    # buy at the smallest size leaves after its fee is below the minimum, so no counter-sell.
    coarse = replace(BTC, min_quantity=D("0.01"))
    fees = Fees(D("0.002"), D("0.001"))
    candles = random_walk(3000, 21)
    lower = min(c.low for c in candles).quantize(D(1))
    upper = max(c.high for c in candles).quantize(D(1)) + 1
    config = GridConfig("BTCUSDT", lower, upper, 20, D(1))
    sized = replace(coarse, maker_fee=fees.maker, taker_fee=fees.taker)
    config = replace(
        config, investment=minimum_investment(config, sized, candles[0].open).quantize(D(1), ROUND_CEILING)
    )

    got = assert_agree(config, candles, fees, coarse, minimum_fills=10)

    placed = exact.run(config, coarse, candles, fees).placements
    assert len(placed) < config.grid_count + len(got.fills), "some fills must leave their interval empty"


def test_a_config_too_large_for_the_kernels_integers_is_refused_for_exact_mode() -> None:
    candles = random_walk(100, 3)
    whale = replace(BTC, max_quantity=D(10**9), max_market_quantity=D(10**9), max_amount=D(10**15))
    config = GridConfig("BTCUSDT", D(15000), D(25000), 20, D(10**11))

    with pytest.raises(kernel.KernelUnsupported, match="exact mode"):
        kernel.run(config, whale, kernel.CandleArrays.of(candles, BTC.tick_size))


def test_a_trigger_that_never_comes_trades_nothing() -> None:
    candles = random_walk(200, 5)
    config = GridConfig("BTCUSDT", D(15000), D(25000), 20, D(10000), trigger_price=D(40000))

    got = kernel.run(config, BTC, kernel.CandleArrays.of(candles, BTC.tick_size))

    assert got.start_index is None
    assert got.fills == ()
    assert got.grid_profit == 0


def test_exits_the_kernel_cannot_honour_are_refused() -> None:
    candles = random_walk(10, 5)
    config = GridConfig("BTCUSDT", D(15000), D(25000), 20, D(10000), stop_loss_price=D(14000))

    with pytest.raises(ValueError, match="does not model take-profit"):
        kernel.run(config, BTC, kernel.CandleArrays.of(candles, BTC.tick_size))


def test_the_kernel_imports_no_django() -> None:
    probe = (
        "import sys, bots.backtest.kernel\n"
        "assert not [m for m in sys.modules if m.split('.')[0] == 'django'], 'django imported'\n"
    )
    subprocess.run([sys.executable, "-c", probe], check=True, cwd=Path(__file__).resolve().parents[2])
