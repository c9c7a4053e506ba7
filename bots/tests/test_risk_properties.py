"""The preview's risk figures are what the grid would really do, wherever the price starts.

`grid.risk` is checked against a simulation that shares none of its arithmetic: the grid laid out
by `initial_state`, the price walked level by level to the target, every order it crosses filled
at its price with the venue's fee, the strategy's own `apply_fills` placing the counter-orders,
then the holdings marked to market (or sold at the stop-loss).
"""

from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_CEILING, Decimal

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from bots.strategies import grid
from bots.strategies.grid import Direction, ExitAction, GridConfig, GridFill, Spacing
from bots.tests.factories import grid_config
from exchanges.base import Side
from exchanges.paper.instruments import instrument_for

D = Decimal
BTC = instrument_for("BTCUSDT")
PRECISION = D("0.00000001")


def simulate(config: GridConfig, price: Decimal, target: Decimal, *, exit_at_end: bool = False) -> Decimal:
    """Equity at `target` minus the investment, by walking the grid there one level at a time."""
    quantity = grid.quantity_for_investment(config, BTC, price)
    state, _ = grid.initial_state(config, BTC, price)
    base, quote = start_holdings(config, state, price, quantity)
    for step in walk(state.lines, price, target):
        while True:
            crossed = [
                interval
                for interval in state.intervals
                if interval.quantity > interval.filled
                and (
                    (interval.side is Side.BUY and interval.price >= step)
                    or (interval.side is Side.SELL and interval.price <= step)
                )
            ]
            if not crossed:
                break
            fills = []
            for interval in crossed:
                size = interval.quantity - interval.filled
                if interval.side is Side.BUY:
                    fee = size * BTC.maker_fee
                    base += size - fee
                    quote -= size * interval.price
                    fills.append(
                        GridFill(interval.index, interval.cycle, Side.BUY, interval.price, size, fee, "BTC")
                    )
                else:
                    fee = size * interval.price * BTC.maker_fee
                    base -= size
                    quote += size * interval.price - fee
                    fills.append(
                        GridFill(interval.index, interval.cycle, Side.SELL, interval.price, size, fee, "USDT")
                    )
            offered = sum((i.quantity - i.filled for i in state.intervals if i.side is Side.SELL), D(0))
            state = grid.apply_fills(config, BTC, state, fills, base_available=base - offered).state
    if exit_at_end:
        proceeds = base * target
        return quote + proceeds - proceeds * BTC.taker_fee - config.investment
    return quote + base * target - config.investment


def start_holdings(
    config: GridConfig, state: grid.GridState, price: Decimal, quantity: Decimal
) -> tuple[Decimal, Decimal]:
    """What the account holds once the start trade is done, from the orders the grid rests."""
    sells = sum((i.quantity for i in state.intervals if i.side is Side.SELL), D(0))
    buys_cost = sum((i.quantity * i.price for i in state.intervals if i.side is Side.BUY), D(0))
    fee = BTC.taker_fee
    if config.direction is Direction.LONG:
        bought = round_up(sells / (1 - fee)) if sells else D(0)
        spent = bought * price
        return bought - bought * fee, config.investment - spent
    sold = round_up(buys_cost / (price * (1 - fee))) if buys_cost else D(0)
    committed = (sells + sold) * price
    return sells, config.investment - committed + sold * price - sold * price * fee


def round_up(value: Decimal) -> Decimal:
    step = BTC.quantity_step
    return (value / step).to_integral_value(rounding=ROUND_CEILING) * step


def walk(lines: tuple[Decimal, ...], price: Decimal, target: Decimal) -> list[Decimal]:
    """Every line between the price and the target, in the order the price meets them, then the target."""
    if target < price:
        between = sorted((line for line in lines if target < line < price), reverse=True)
    else:
        between = sorted(line for line in lines if price < line < target)
    return [*between, target]


def assert_close(actual: Decimal, expected: Decimal) -> None:
    assert actual.quantize(PRECISION) == expected.quantize(PRECISION), (actual, expected)


def check(config: GridConfig, price: Decimal) -> None:
    outcome = grid.risk(config, BTC, price)
    assert_close(outcome.pnl_at_lower, simulate(config, price, config.lower_price))
    assert_close(outcome.pnl_at_upper, simulate(config, price, config.upper_price))
    if config.stop_loss_price is None:
        assert outcome.pnl_at_stop is None
    else:
        assert outcome.pnl_at_stop is not None
        sells = config.stop_loss_action is ExitAction.SELL_BASE
        assert_close(outcome.pnl_at_stop, simulate(config, price, config.stop_loss_price, exit_at_end=sells))


# Properties ----------------------------------------------------------------------------------


def prices(low: str, high: str) -> st.SearchStrategy[Decimal]:
    return st.decimals(D(low), D(high), places=1, allow_nan=False, allow_infinity=False)


@st.composite
def grids(draw: st.DrawFn) -> tuple[GridConfig, Decimal]:
    lower = draw(prices("1000", "80000"))
    upper = (lower * draw(st.decimals(D("1.05"), D("3"), places=2))).quantize(D("0.1"))
    where = draw(st.sampled_from(["below", "inside", "above"]))
    if where == "below":
        price = (lower * draw(st.decimals(D("0.5"), D("0.99"), places=3))).quantize(D("0.1"))
    elif where == "inside":
        price = draw(st.decimals(lower, upper, places=1))
    else:
        price = (upper * draw(st.decimals(D("1.01"), D("1.6"), places=3))).quantize(D("0.1"))
    stop = None
    if draw(st.booleans()):
        stop = (lower * draw(st.decimals(D("0.5"), D("0.99"), places=3))).quantize(D("0.1"))
    config = GridConfig(
        symbol="BTCUSDT",
        lower_price=lower,
        upper_price=upper,
        grid_count=draw(st.integers(2, 25)),
        investment=draw(st.decimals(D("200"), D("50000"), places=2)),
        spacing=draw(st.sampled_from(list(Spacing))),
        direction=draw(st.sampled_from(list(Direction))),
        stop_loss_price=stop,
        stop_loss_action=draw(st.sampled_from(list(ExitAction))),
    )
    return config, price


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(grids())
def test_the_risk_figures_are_what_walking_the_grid_there_would_book(
    case: tuple[GridConfig, Decimal],
) -> None:
    config, price = case
    try:
        grid.validate(config, BTC, price)
    except grid.GridConfigError:
        assume(False)
    check(config, price)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.filter_too_much])
@given(grids())
def test_the_preview_and_its_loss_come_from_the_same_risk(case: tuple[GridConfig, Decimal]) -> None:
    config, price = case
    try:
        grid.validate(config, BTC, price)
    except grid.GridConfigError:
        assume(False)
    preview = grid.preview(config, BTC, price)
    assert preview.risk == grid.risk(config, BTC, price)
    worst = preview.risk.pnl_at_stop if preview.risk.pnl_at_stop is not None else preview.risk.pnl_at_lower
    assert preview.loss_at_stop == max(D(0), -worst)


# The cases a trader meets ----------------------------------------------------------------------


def test_a_long_grid_started_below_its_range_shows_the_base_it_buys_at_market() -> None:
    """40,000 under a 45,000-65,000 range: the whole investment buys BTC now, for the sells."""
    config = grid_config()
    price = D("40000")
    preview = grid.preview(config, BTC, price)
    assert preview.base_to_buy * price > D("990")
    outcome = preview.risk
    # The base bought at 40,000 is worth about 12.5% more at the lower bound, and sells off above it.
    assert D("100") < outcome.pnl_at_lower < D("130")
    assert outcome.pnl_at_upper > outcome.pnl_at_lower
    assert any("at market now" in warning for warning in preview.warnings)
    stopped = grid.risk(replace(config, stop_loss_price=D("30000")), BTC, price)
    assert stopped.pnl_at_stop is not None
    assert D("-260") < stopped.pnl_at_stop < D("-240"), "a quarter of the base's value, and the exit fee"


def test_a_long_grid_started_above_its_range_risks_every_buy() -> None:
    config = grid_config()
    outcome = grid.risk(config, BTC, D("70000"))
    assert outcome.pnl_at_upper == 0, "nothing fills between 70,000 and 65,000 and nothing is held"
    assert outcome.pnl_at_lower < D("-100")


@pytest.mark.parametrize("price", ["40000", "54000", "70000"])
@pytest.mark.parametrize("direction", list(Direction))
def test_every_position_against_the_range_agrees_with_the_walk(price: str, direction: Direction) -> None:
    check(grid_config(direction=direction, stop_loss_price=D("38000")), D(price))
