"""The futures grid backtest (bots/backtest/perpetual.py): round trips, funding and liquidation by
hand, and the money identity over the shipped 5-minute series. Pure: no database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_UP, Decimal
from pathlib import Path

import pytest

from bots.backtest import perpetual
from bots.strategies import futures_grid
from bots.strategies.base import StrategyFill
from bots.strategies.futures_grid import FuturesGridConfig, Mode
from exchanges.base import Candle, PositionSide, Side
from exchanges.market_data.files import read_candle_file
from exchanges.paper.instruments import LINEAR_INSTRUMENTS, MAX_LEVERAGE
from exchanges.perpetuals import margin

D = Decimal
BTC = LINEAR_INSTRUMENTS["BTCUSDT"]
PERP = futures_grid.Perpetual(BTC, margin.BTCUSDT_TIERS, MAX_LEVERAGE["BTCUSDT"])
HOUR = timedelta(hours=1)
T1 = datetime(2024, 1, 1, 1, tzinfo=UTC)  # clear of the 00/08/16 funding times
FIVE_MINUTES = Path(__file__).resolve().parents[2] / "exchanges/data/btcusdt-5m-2023-01-02--2023-02-09.csv.gz"


def candles(*rows: tuple[str, str, str, str], start: datetime = T1) -> list[Candle]:
    return [Candle(start + i * HOUR, D(o), D(h), D(low), D(c), D(1)) for i, (o, h, low, c) in enumerate(rows)]


def config(**overrides: object) -> FuturesGridConfig:
    values: dict[str, object] = {
        "symbol": "BTCUSDT",
        "lower_price": D("19000"),
        "upper_price": D("21000"),
        "grid_count": 2,  # lines 19,000 / 20,000 / 21,000
        "investment": D("1000"),
        "leverage": D("10"),
        "mode": Mode.LONG,
    }
    values.update(overrides)
    made = FuturesGridConfig(**values)  # type: ignore[arg-type]
    futures_grid.validate(made, PERP, D("20000"))
    return made


def test_a_long_grid_earns_two_round_trips_as_computed_by_hand() -> None:
    series = candles(
        ("20000", "20000", "18900", "19500"),  # start at 20,000; the buy at 19,000 fills
        ("19500", "20100", "19400", "19800"),  # low first, then up through the sell at 20,000
        ("19800", "19900", "18950", "19000"),  # up a little, then down through the buy again
        ("19000", "20050", "19000", "20000"),  # and up through the sell again
    )
    result = perpetual.run(config(), PERP, series)

    q = futures_grid.quantity_for_investment(config(), BTC, D("20000"))
    assert result.quantity_per_order == q > 0
    assert [(f.side, f.price, f.reduce_only, f.is_maker) for f in result.fills] == [
        (Side.BUY, D("20000"), False, False),  # the start's market order: the sell above's share
        (Side.BUY, D("19000"), False, True),
        (Side.SELL, D("20000"), True, True),
        (Side.BUY, D("19000"), False, True),
        (Side.SELL, D("20000"), True, True),
    ]
    assert result.grid_profit == 2 * (D("20000") - D("19000")) * q
    assert result.summary.round_trips == 2
    fees = q * D("20000") * BTC.taker_fee + 2 * q * (D("19000") + D("20000")) * BTC.maker_fee
    assert result.fees == fees
    assert result.unrealized == 0  # the start's lot, bought at 20,000, at the last close of 20,000
    assert result.equity - result.investment == 2 * 1000 * q - fees
    assert result.liquidation is None
    assert result.fundings == ()
    assert result.position_side is PositionSide.LONG
    assert result.position_size == q


def _flat_hours(start: datetime, opens: list[str]) -> list[Candle]:
    return [
        Candle(start + i * HOUR, D(price), D(price) + 10, D(price) - 10, D(price), D(1))
        for i, price in enumerate(opens)
    ]


@pytest.mark.parametrize("mode", [Mode.LONG, Mode.SHORT])
def test_funding_settles_at_exactly_the_eight_hour_times_with_its_sign(mode: Mode) -> None:
    start = datetime(2024, 1, 1, 6, tzinfo=UTC)
    opens = ["20000"] * 12  # 06:00 to 17:00
    opens[2], opens[10] = "20040", "19960"  # the marks at 08:00 and 16:00
    result = perpetual.run(config(mode=mode), PERP, _flat_hours(start, opens))

    size = result.position_size
    assert size > 0
    assert not [f for f in result.fills if f.is_maker]
    assert [f.time for f in result.fundings] == [start + 2 * HOUR, start + 10 * HOUR]
    assert [f.mark for f in result.fundings] == [D("20040"), D("19960")]
    rate = perpetual.ASSUMED_FUNDING_RATE
    assert rate == margin.DEFAULT_INTEREST_RATE == D("0.0001")
    amounts = [(size * D(mark) * rate) for mark in ("20040", "19960")]
    start_margin = margin.position_margin(
        PositionSide.LONG if mode is Mode.LONG else PositionSide.SHORT,
        D("20000"),
        size,
        D("10"),
        BTC.taker_fee,
    )
    if mode is Mode.LONG:  # a positive rate: longs pay, from the free balance while it lasts
        paid = [amount.quantize(D("1e-8"), rounding=ROUND_UP) for amount in amounts]
        assert [f.amount for f in result.fundings] == [-amount for amount in paid]
        assert result.funding_paid == sum(paid)
        assert result.funding_received == 0
        assert result.position_margin == start_margin
    else:  # shorts receive, to the free balance
        received = [amount.quantize(D("1e-8")) for amount in amounts]
        assert [f.amount for f in result.fundings] == received
        assert result.funding_received == sum(received)
        assert result.funding_paid == 0
        assert result.position_margin == start_margin
    assert result.equity - result.investment == (
        result.unrealized - result.fees - result.funding_paid + result.funding_received
    )


def _started(**overrides: object) -> perpetual._Run:
    run = perpetual._Run(config(**overrides), PERP, perpetual.ASSUMED_FUNDING_RATE)
    run.start(candles(("20000", "20010", "19990", "20000"))[0])
    return run


def test_funding_is_paid_from_the_free_balance_first_as_the_paper_venue_pays_it() -> None:
    run = _started()
    margin_before, free_before, liquidation_before = run.margin, run.free, run.liquidation_price()
    run.settle_funding(T1 + 8 * HOUR)
    [funding] = run.fundings
    assert funding.amount < 0
    assert run.free == free_before + funding.amount
    assert (run.margin, run.liquidation_price()) == (margin_before, liquidation_before)


def test_funding_the_free_balance_cannot_pay_comes_out_of_the_margin_and_moves_the_liquidation() -> None:
    run = _started()
    run.free = D("0.1")  # every entry's margin committed: almost nothing left free
    margin_before, liquidation_before = run.margin, run.liquidation_price()
    run.settle_funding(T1 + 8 * HOUR)
    [funding] = run.fundings
    assert -funding.amount > D("0.1")
    assert run.free == 0
    assert run.margin == margin_before - (-funding.amount - D("0.1"))
    after = run.liquidation_price()
    assert liquidation_before is not None
    assert after is not None
    assert after > liquidation_before  # a long's liquidation comes nearer


def test_a_crash_liquidates_a_20x_long_at_the_crossing_and_loses_its_margin() -> None:
    series = candles(
        ("20000", "20010", "19990", "20000"),
        ("20000", "20050", "18000", "18500"),  # the crash: through the liquidation price
        ("18500", "18600", "18400", "18500"),
        ("18500", "18600", "18400", "18500"),
    )
    result = perpetual.run(config(leverage=D("20")), PERP, series)

    q = result.quantity_per_order
    start_margin = margin.position_margin(PositionSide.LONG, D("20000"), q, D("20"), BTC.taker_fee)
    liq = margin.liquidation_price(
        PositionSide.LONG, D("20000"), q, PERP.tiers, margin=start_margin, fee_rate=BTC.taker_fee
    )
    assert D("19000") < liq < D("20000")  # reached before the buy at 19,000
    liquidation = result.liquidation
    assert liquidation is not None
    assert liquidation.time == series[1].open_time
    assert liquidation.price == liq
    assert liquidation.bankruptcy_price == margin.bankruptcy_price(
        PositionSide.LONG, D("20000"), q, margin=start_margin, fee_rate=BTC.taker_fee
    )
    assert liquidation.margin_lost == start_margin
    assert len(result.equity_curve) == 2  # the run ends in the crossing's candle
    assert [f.price for f in result.fills] == [D("20000")]  # the buy at 19,000 was cancelled
    start_fee = q * D("20000") * BTC.taker_fee
    assert result.equity == result.investment - start_fee - start_margin  # the margin, nothing more
    assert result.equity_curve[-1].equity == result.equity
    assert result.position_size == 0
    assert result.position_margin == 0
    assert result.unrealized == 0
    assert result.last_price == liq


def test_a_neutral_grid_starts_flat() -> None:
    series = candles(("20000", "20010", "19990", "20000"), ("20000", "20500", "19990", "20100"))
    result = perpetual.run(config(mode=Mode.NEUTRAL, grid_count=4), PERP, series)
    # Lines 19,000 / 19,500 / 20,000 / 20,500 / 21,000: nothing at market; the sell at 20,500 opens a short.
    assert [(f.side, f.price, f.reduce_only, f.is_maker) for f in result.fills] == [
        (Side.SELL, D("20500"), False, True)
    ]
    assert result.position_side is PositionSide.SHORT
    assert result.equity_curve[0].equity == result.investment


@pytest.mark.parametrize("mode", list(Mode))
def test_the_money_identity_holds_over_days_of_the_shipped_series(mode: Mode) -> None:
    series = read_candle_file(FIVE_MINUTES)[: 12 * 24 * 4]  # four days
    made = FuturesGridConfig("BTCUSDT", D("16000"), D("18000"), 20, D("1000"), D("5"), mode)
    futures_grid.validate(made, PERP, series[0].open)
    result = perpetual.run(made, PERP, series)
    assert result.summary.round_trips > 0
    assert result.fundings
    assert (
        result.grid_profit
        + result.unrealized
        - result.fees
        - result.funding_paid
        + (result.funding_received)
        - result.liquidation_loss
        == result.equity - result.investment
    )
    last = result.equity_curve[-1]
    assert last.equity == result.equity
    assert last.unrealized == result.unrealized


@pytest.mark.parametrize("mode", list(Mode))
def test_every_order_the_backtest_rests_is_the_strategys_intent(mode: Mode) -> None:
    series = read_candle_file(FIVE_MINUTES)[: 12 * 24 * 4]  # four days
    made = FuturesGridConfig("BTCUSDT", D("16000"), D("18000"), 20, D("1000"), D("5"), mode)
    futures_grid.validate(made, PERP, series[0].open)
    result = perpetual.run(made, PERP, series)

    strategy = futures_grid.FUTURES_GRID
    price = series[0].open
    trade = strategy.start_trade(made, PERP, price)
    start = [(f.side, f.quantity) for f in result.fills if not f.is_maker]
    assert start == ([(trade.side, trade.quantity)] if trade.quantity else [])
    state, intents = strategy.initial_state(made, PERP, price)
    expected = list(intents)
    for fill in (f for f in result.fills if f.is_maker):
        assert fill.interval is not None
        assert fill.cycle is not None
        decision = strategy.apply_fills(
            state,
            [StrategyFill(fill.interval, fill.cycle, fill.side, fill.price, fill.quantity, fill.fee, "USDT")],
            PERP,
            made,
            base_available=D(0),
        )
        assert decision.cancel == ()
        state = decision.state
        expected.extend(decision.place)
    maker = [f for f in result.fills if f.is_maker]
    assert len(maker) > 4
    assert [p.intent for p in result.placements] == expected
    assert result.state == state
    # Every fill carries the reduce-only flag of the intent that rested it.
    rested = {(p.intent.interval, p.intent.cycle): p.intent.reduce_only for p in result.placements}
    assert [f.reduce_only for f in maker] == [rested[(f.interval, f.cycle)] for f in maker]  # type: ignore[index]
    assert any(f.reduce_only for f in maker)
    assert any(not f.reduce_only for f in maker)
