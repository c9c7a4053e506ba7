"""The DCA strategy as pure functions (bots/strategies/dca.py): the preview's formulas, the
validation in a trader's words, the state's JSON round trip, and a deal decided fill by fill."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots.strategies import dca, registry
from bots.strategies.base import ConfigError, Strategy, StrategyFill
from exchanges.base import OrderType, Side
from exchanges.paper.instruments import INSTRUMENTS

D = Decimal
BTC = INSTRUMENTS["BTCUSDT"]


def config(**changes: object) -> dca.DcaConfig:
    base = dca.DcaConfig(
        symbol="BTCUSDT",
        base_order_size=D(100),
        safety_order_size=D(50),
        price_deviation=D(1),
        max_safety_orders=5,
        take_profit=D(1),
        step_scale=D(2),
        volume_scale=D(1),
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def test_dca_is_registered_and_implements_the_protocol() -> None:
    assert registry.strategy_named("dca") is dca.DCA
    assert isinstance(dca.DCA, Strategy)
    assert ("dca", "DCA") in registry.choices()


# The formulas -----------------------------------------------------------------------------


def test_cumulative_deviation_doubles_with_step_scale_two() -> None:
    c = config()
    assert [dca.deviation(c, n) for n in range(1, 6)] == [D(1), D(3), D(7), D(15), D(31)]
    assert [dca.step(c, n) for n in range(1, 6)] == [D(1), D(2), D(4), D(8), D(16)]
    rows = dca.preview(c, BTC, D(100000)).safety_orders
    assert [row.deviation for row in rows] == [D(1), D(3), D(7), D(15), D(31)]
    assert [row.price for row in rows] == [D(99000), D(97000), D(93000), D(85000), D(69000)]


def test_step_scale_one_spaces_evenly() -> None:
    c = config(step_scale=D(1), price_deviation=D("2.5"))
    assert [dca.deviation(c, n) for n in range(1, 4)] == [D("2.5"), D(5), D("7.5")]


def test_volume_scale_one_and_above() -> None:
    flat = config(volume_scale=D(1))
    assert dca.all_safety_sizes(flat) == D(250)
    assert dca.max_funds(flat) == D(350)
    grown = config(volume_scale=D(2))
    assert [dca.safety_size(grown, n) for n in range(1, 6)] == [D(50), D(100), D(200), D(400), D(800)]
    assert dca.all_safety_sizes(grown) == D(50) * (D(2) ** 5 - 1) / (D(2) - 1) == D(1550)
    assert dca.max_funds(grown) == D(1650)


def test_the_preview_table_averages_and_targets() -> None:
    c = config(volume_scale=D(2))
    p0 = D(100000)
    preview = dca.preview(c, BTC, p0)
    spent, base = D(100), D(100) / p0
    for row in preview.safety_orders:
        size = D(50) * D(2) ** (row.number - 1)
        spent += size
        base += size / row.price
        average = spent / base
        assert row.size == size
        assert row.total_size == spent
        assert row.average_price == BTC.round_price(average, "ROUND_HALF_EVEN")
        assert row.take_profit_price == BTC.round_price(average * D("1.01"), "ROUND_UP")
        expected_rebound = (row.take_profit_price / row.price - 1) * 100
        assert row.rebound == expected_rebound.quantize(D("0.0001"))
        assert row.quantity == BTC.round_quantity(size / row.price)
    assert preview.max_funds == D(1650)
    assert preview.lowest_price == D(69000)
    assert preview.base_take_profit_price == D(101000)
    assert preview.funds_asset == "USDT"


def test_a_short_deal_sets_its_safety_orders_above() -> None:
    c = config(direction=dca.Direction.SHORT)
    preview = dca.preview(c, BTC, D(100000))
    assert [row.price for row in preview.safety_orders] == [
        D(101000),
        D(103000),
        D(107000),
        D(115000),
        D(131000),
    ]
    assert all(row.take_profit_price < row.average_price for row in preview.safety_orders)
    assert preview.funds_asset == "BTC"
    assert preview.funds_needed == dca.short_base_needed(c, BTC, D(100000))


def test_take_profit_on_the_base_order_is_a_smaller_move() -> None:
    total = dca.take_profit_price(config(), D(100), D(400))
    on_base = dca.take_profit_price(config(take_profit_on=dca.TakeProfitOn.BASE), D(100), D(400))
    assert total == D(101)
    assert on_base == D(100) * (1 + D("0.01") * D(100) / D(400)) == D("100.25")


# Validation ---------------------------------------------------------------------------------


def test_validation_names_each_field_in_a_traders_words() -> None:
    bad = config(
        base_order_size=D(0),
        price_deviation=D(-1),
        max_safety_orders=0,
        take_profit=D(0),
    )
    with pytest.raises(ConfigError) as caught:
        dca.validate(bad, BTC, D(100000))
    assert set(caught.value.errors) >= {
        "base_order_size",
        "price_deviation",
        "max_safety_orders",
        "take_profit",
    }


def test_validation_checks_the_venue_minimums_and_the_depth() -> None:
    with pytest.raises(ConfigError) as caught:
        dca.validate(config(base_order_size=D(2), safety_order_size=D(3)), BTC, D(100000), "Bybit")
    assert "Bybit takes orders of at least 5 USDT" in caught.value.errors["base_order_size"][0]
    assert "Safety order 1" in caught.value.errors["safety_order_size"][0]
    with pytest.raises(ConfigError) as caught:
        dca.validate(config(max_safety_orders=7), BTC, D(100000))  # 127% below: impossible
    assert "at or below zero" in caught.value.errors["max_safety_orders"][0]
    with pytest.raises(ConfigError) as caught:
        dca.validate(
            config(
                trailing_deviation=D(2),
                stop_loss=D(100),
                breakeven_after=9,
                start_condition=dca.StartCondition.PRICE,
                max_active_safety_orders=6,
            ),
            BTC,
            D(100000),
        )
    assert set(caught.value.errors) == {
        "trailing_deviation",
        "stop_loss",
        "breakeven_after",
        "start_price",
        "max_active_safety_orders",
    }
    dca.validate(config(), BTC, D(100000))  # a sound config passes


def test_the_stop_loss_above_a_safety_order_is_warned_about() -> None:
    preview = dca.preview(config(stop_loss=D(10)), BTC, D(100000))
    assert any("before safety order 4" in warning for warning in preview.warnings)


# JSON ------------------------------------------------------------------------------------------


def test_config_round_trips_and_writes_its_investment() -> None:
    c = config(trailing_deviation=D("0.5"), stop_loss=D(20), max_deals=3, max_active_safety_orders=2)
    data = json.loads(json.dumps(dca.config_to_json(c)))
    assert data["investment"] == "350"
    assert dca.config_from_json(data) == c
    assert dca.config_from_json({**data, "stop_loss": "", "max_deals": None}).stop_loss is None


def _fill(intent_slot: int, cycle: int, side: Side, price: Decimal, quantity: Decimal) -> StrategyFill:
    fee_asset = "BTC" if side is Side.BUY else "USDT"
    fee = quantity * D("0.001") if side is Side.BUY else quantity * price * D("0.001")
    return StrategyFill(intent_slot, cycle, side, price, quantity, fee, fee_asset)


@settings(max_examples=30, deadline=None)
@given(drops=st.lists(st.integers(min_value=1, max_value=40), max_size=8))
def test_state_survives_json_through_any_deal(drops: list[int]) -> None:
    c = config(max_active_safety_orders=2, max_safety_orders=4, stop_loss=D(30))
    state, [bo] = dca.initial_state(c, BTC, D(100000))
    decision = dca.apply_fills(state, [_fill(0, bo.cycle, bo.side, D(100000), bo.quantity)], BTC, c)
    state = decision.state
    for drop in drops:
        price = D(100000) * (1 - D(drop) / 100)
        resting = [o for o in state.orders if 1 <= o.slot <= c.max_safety_orders and o.price >= price]
        for order in resting:
            state = dca.apply_fills(
                state, [_fill(order.slot, order.cycle, order.side, order.price, order.quantity)], BTC, c
            ).state
        moved = dca.on_price(state, price, BTC, c)
        if moved is not None:
            state = moved.state
        text = json.dumps(dca.state_to_json(state))
        assert dca.state_from_json(json.loads(text)) == state


# A deal, decided fill by fill ---------------------------------------------------------------


def test_a_deal_from_base_order_to_take_profit_and_the_next() -> None:
    c = config(max_active_safety_orders=2)
    state, [bo] = dca.initial_state(c, BTC, D(100000))
    assert (bo.interval, bo.order_type, bo.quantity) == (0, OrderType.MARKET, D("0.001"))
    opened = dca.apply_fills(state, [_fill(0, bo.cycle, Side.BUY, D(100000), bo.quantity)], BTC, c)
    so1, so2, tp = opened.place
    assert [(i.interval, i.price) for i in (so1, so2)] == [(1, D(99000)), (2, D(97000))]
    assert (tp.interval, tp.side, tp.price, tp.quantity) == (6, Side.SELL, D("101101.2"), D("0.000999"))

    filled = dca.apply_fills(opened.state, [_fill(1, so1.cycle, Side.BUY, so1.price, so1.quantity)], BTC, c)
    so3, new_tp = filled.place
    assert so3.interval == 3
    assert so3.price == D(93000)
    assert filled.cancel == (tp.key,)
    assert new_tp.interval == 6
    assert new_tp.cycle > tp.cycle
    assert new_tp.price < tp.price
    assert new_tp.quantity == BTC.round_quantity(filled.state.position)
    assert dca.open_orders(filled.state) == {so2.key, so3.key, new_tp.key}

    closed = dca.apply_fills(
        filled.state, [_fill(6, new_tp.cycle, Side.SELL, new_tp.price, new_tp.quantity)], BTC, c
    )
    assert set(closed.cancel) == {so2.key, so3.key}
    [next_bo] = closed.place
    assert next_bo.interval == 0
    assert next_bo.order_type is OrderType.MARKET
    assert closed.state.deal == 2
    assert closed.state.deals_closed == 1
    [record] = closed.state.history
    assert record.reason is dca.CloseReason.TAKE_PROFIT
    assert record.safety_orders_used == 1
    assert record.profit > 0
    assert record.profit == record.exit_value - record.entry_value


def test_cooldown_and_max_deals_hold_the_next_deal() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    c = config(start_condition=dca.StartCondition.COOLDOWN, cooldown=600, max_deals=2)
    with dca.clock_at(lambda: now):
        state, [bo] = dca.initial_state(c, BTC, D(100000))
        state = dca.apply_fills(state, [_fill(0, bo.cycle, Side.BUY, D(100000), bo.quantity)], BTC, c).state
        tp = state.order(c.tp_slot)
        assert tp is not None
        closed = dca.apply_fills(state, [_fill(tp.slot, tp.cycle, Side.SELL, tp.price, tp.quantity)], BTC, c)
        assert closed.state.phase is dca.Phase.WAITING
        assert not closed.place
        assert dca.on_price(closed.state, D(100000), BTC, c) is None
    with dca.clock_at(lambda: now + timedelta(seconds=600)):
        reopened = dca.on_price(closed.state, D(100000), BTC, c)
    assert reopened is not None
    assert reopened.state.deal == 2
    finished = replace(reopened.state, phase=dca.Phase.WAITING, orders=())
    assert dca.on_price(finished, D(100000), BTC, c) is None  # max_deals reached


def test_stop_loss_and_trailing_close_at_market() -> None:
    c = config(stop_loss=D(5), trailing_deviation=D("0.5"), max_safety_orders=2)
    state, [bo] = dca.initial_state(c, BTC, D(100000))
    opened = dca.apply_fills(state, [_fill(0, bo.cycle, Side.BUY, D(100000), bo.quantity)], BTC, c)
    assert [i.interval for i in opened.place] == [1, 2]  # a trailing take-profit rests nothing
    stop = dca.on_price(opened.state, D(94000), BTC, c)
    assert stop is not None
    [close] = stop.place
    assert (close.interval, close.order_type, close.side) == (c.sl_slot, OrderType.MARKET, Side.SELL)
    assert set(stop.cancel) == {i.key for i in opened.place}

    assert dca.on_price(opened.state, D(100500), BTC, c) is None  # below the target
    active = dca.on_price(opened.state, D(101200), BTC, c)
    assert active is not None
    assert active.state.trailing_peak == D(101200)
    assert not active.place
    higher = dca.on_price(active.state, D(102000), BTC, c)
    assert higher is not None
    assert higher.state.trailing_peak == D(102000)
    assert dca.on_price(higher.state, D(101600), BTC, c) is None  # within 0.5%
    sold = dca.on_price(higher.state, D(101400), BTC, c)
    assert sold is not None
    [market] = sold.place
    assert (market.interval, market.order_type) == (c.tp_slot, OrderType.MARKET)
    done = dca.apply_fills(
        sold.state, [_fill(market.interval, market.cycle, Side.SELL, D(101400), market.quantity)], BTC, c
    )
    assert done.state.history[-1].reason is dca.CloseReason.TRAILING


def test_breakeven_stop_arms_only_after_the_price_is_back_above_the_average() -> None:
    c = config(breakeven_after=1, max_safety_orders=2)
    state, [bo] = dca.initial_state(c, BTC, D(100000))
    opened = dca.apply_fills(state, [_fill(0, bo.cycle, Side.BUY, D(100000), bo.quantity)], BTC, c)
    so1 = opened.state.order(1)
    assert so1 is not None
    after = dca.apply_fills(
        opened.state, [_fill(1, so1.cycle, Side.BUY, so1.price, so1.quantity)], BTC, c
    ).state
    average = after.average_entry
    assert average is not None
    assert dca.on_price(after, so1.price, BTC, c) is None  # below the average: not armed
    armed = dca.on_price(after, average + 100, BTC, c)
    assert armed is not None
    assert armed.state.breakeven_armed
    closing = dca.on_price(armed.state, average - 1, BTC, c)
    assert closing is not None
    assert closing.state.phase is dca.Phase.CLOSING


def test_an_earlier_deals_late_fill_is_carried_into_the_next_close() -> None:
    c = config(max_safety_orders=2)
    state, [bo] = dca.initial_state(c, BTC, D(100000))
    opened = dca.apply_fills(state, [_fill(0, bo.cycle, Side.BUY, D(100000), bo.quantity)], BTC, c)
    so1, _so2, tp = opened.place
    closed = dca.apply_fills(
        opened.state, [_fill(tp.interval, tp.cycle, Side.SELL, tp.price, tp.quantity)], BTC, c
    )
    late = dca.apply_fills(closed.state, [_fill(1, so1.cycle, Side.BUY, so1.price, so1.quantity)], BTC, c)
    assert late.state.carry == closed.state.carry + so1.quantity * D("0.999")
    assert late.state.deals_closed == 1
    assert not late.place


# A limit base order ---------------------------------------------------------------------------


def test_a_limit_base_order_rests_a_tick_on_the_favourable_side_and_the_deal_waits_for_it() -> None:
    c = config(max_active_safety_orders=2, base_order_type=dca.BaseOrderType.LIMIT)
    state, [bo] = dca.initial_state(c, BTC, D("100000.05"))
    # Below the price for a long buy, rounded down to the tick, then one tick lower: it rests.
    assert (bo.interval, bo.order_type, bo.side, bo.price) == (0, OrderType.LIMIT, Side.BUY, D("99999.9"))
    assert bo.quantity == BTC.round_quantity(D(100) / D("99999.9"))
    short = replace(c, direction=dca.Direction.SHORT)
    _, [sell] = dca.initial_state(short, BTC, D("100000.05"))
    assert (sell.order_type, sell.side, sell.price) == (OrderType.LIMIT, Side.SELL, D("100000.2"))

    half = bo.quantity / 2
    partly = dca.apply_fills(state, [_fill(0, bo.cycle, Side.BUY, bo.price, half)], BTC, c)
    assert partly.state.phase is dca.Phase.OPENING  # partial fills wait for the rest
    assert partly.place == ()
    assert dca.on_price(partly.state, D(90000), BTC, c) is None  # nothing re-planned meanwhile

    rest = bo.quantity - half
    opened = dca.apply_fills(partly.state, [_fill(0, bo.cycle, Side.BUY, D("99999.7"), rest)], BTC, c)
    assert opened.state.phase is dca.Phase.OPEN
    average = (half * bo.price + rest * D("99999.7")) / bo.quantity
    assert opened.state.reference_price == average  # the fills' average price
    so1, so2, tp = opened.place
    assert so1.price == dca.safety_price(c, BTC, average, 1)
    assert so2.price == dca.safety_price(c, BTC, average, 2)
    assert tp.interval == c.tp_slot


def test_a_limit_base_order_needs_no_slippage_allowance_and_moves_the_preview() -> None:
    market_config = config()
    limit_config = config(base_order_type=dca.BaseOrderType.LIMIT)
    assert dca.funds_needed(market_config, BTC, D(100000)) == {"USDT": D("100.5") + 5 * D(50)}
    assert dca.funds_needed(limit_config, BTC, D(100000)) == {"USDT": D(100) + 5 * D(50)}
    preview = dca.preview(limit_config, BTC, D(100000))
    assert preview.reference_price == D("99999.9")
    assert preview.safety_orders[0].price == dca.safety_price(limit_config, BTC, D("99999.9"), 1)
    assert dca.preview(market_config, BTC, D(100000)).reference_price == D(100000)


def test_the_base_order_type_round_trips_and_defaults_to_market() -> None:
    c = config(base_order_type=dca.BaseOrderType.LIMIT)
    data = json.loads(json.dumps(dca.config_to_json(c)))
    assert data["base_order_type"] == "limit"
    assert dca.config_from_json(data) == c
    del data["base_order_type"]  # a bot saved before the field existed
    assert dca.config_from_json(data).base_order_type is dca.BaseOrderType.MARKET


# Refusals and funds, decided by the strategy ---------------------------------------------------


def test_a_refused_base_order_withdraws_the_deal_and_asks_to_stop() -> None:
    c = config(max_active_safety_orders=2)
    state, [bo] = dca.initial_state(c, BTC, D(100000))
    assert dca.funds_to_place(state, bo.key, c, BTC) == dca.funds_needed(c, BTC, D(100000))
    decision = dca.on_refused(state, bo.key, "Order value 99.90 USDT is below the minimum of 500.", c, BTC)
    assert decision is not None
    assert (decision.state.phase, decision.state.deal, decision.state.orders) == (dca.Phase.WAITING, 0, ())
    assert decision.state.seq == state.seq  # cycles only grow: the next base order has a new id
    assert decision.halt == (
        "Deal 1 did not open: its base order (buy 0.001 BTC, about 100 USDT) was refused. "
        "Order value 99.90 USDT is below the minimum of 500."
    )
    assert decision.place == decision.cancel == ()
    assert dca.on_refused(state, (0, 99), "gone", c, BTC) is None  # not an order of this state


def test_refused_orders_inside_a_deal() -> None:
    c = config(max_active_safety_orders=2, stop_loss=D(20))
    state, [bo] = dca.initial_state(c, BTC, D(100000))
    opened = dca.apply_fills(state, [_fill(0, bo.cycle, Side.BUY, D(100000), bo.quantity)], BTC, c)
    so1, so2, tp = opened.place
    assert dca.funds_to_place(opened.state, so1.key, c, BTC) == {}  # the deal's own funds

    dropped = dca.on_refused(opened.state, so2.key, "Not enough funds.", c, BTC)
    assert dropped is not None
    assert dropped.halt is None  # the deal goes on without it
    assert dca.open_orders(dropped.state) == {so1.key, tp.key}

    no_tp = dca.on_refused(opened.state, tp.key, "Not enough funds.", c, BTC)
    assert no_tp is not None
    assert no_tp.halt is not None
    assert "take profit" in no_tp.halt
    assert "still open" in no_tp.halt

    stop = dca.on_price(opened.state, D(79000), BTC, c)
    assert stop is not None
    [close] = stop.place
    assert stop.state.phase is dca.Phase.CLOSING
    reopened = dca.on_refused(stop.state, close.key, "Not enough funds.", c, BTC)
    assert reopened is not None
    assert reopened.state.phase is dca.Phase.OPEN
    assert reopened.halt is not None
    assert reopened.halt.startswith("Deal 1 could not close at market (sell 0.000999 BTC")


def test_a_short_close_at_market_needs_its_quote_first() -> None:
    c = config(direction=dca.Direction.SHORT, stop_loss=D(5))
    state, [bo] = dca.initial_state(c, BTC, D(100000))
    opened = dca.apply_fills(state, [_fill(0, bo.cycle, Side.SELL, D(100000), bo.quantity)], BTC, c)
    stop = dca.on_price(opened.state, D(105000), BTC, c)
    assert stop is not None
    [close] = stop.place
    assert (close.side, close.order_type) == (Side.BUY, OrderType.MARKET)
    needed = dca.funds_to_place(stop.state, close.key, c, BTC)
    assert needed == {"USDT": dca.market_buy_cost(BTC, close.quantity, D(105000))}
    assert needed["USDT"] > close.quantity * D(105000)  # room for the market's slippage
