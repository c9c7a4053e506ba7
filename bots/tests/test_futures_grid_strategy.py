"""The futures grid's pure module: sizing, levels per mode, the liquidation estimate composed from
the fills (checked against Bybit's formula worked by hand, and Bybit's own worked examples), the
validation messages and the warnings."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import ROUND_UP, Decimal

import pytest

from bots.strategies import futures_grid as fg
from bots.strategies.base import (
    ConfigError,
    Decision,
    ExitAction,
    ExitReason,
    OrderIntent,
    Strategy,
    StrategyFill,
)
from exchanges.base import Side
from exchanges.paper.instruments import LINEAR_INSTRUMENTS, MAX_LEVERAGE
from exchanges.perpetuals.margin import BTCUSDT_TIERS, RiskTier
from trading.numbers import plain

D = Decimal
EIGHT = D("0.00000001")
BTC = LINEAR_INSTRUMENTS["BTCUSDT"]
PERP = fg.Perpetual(BTC, BTCUSDT_TIERS, MAX_LEVERAGE["BTCUSDT"])
TAKER = D("0.00055")
MAKER = D("0.0002")
PRICE = D(55000)
# Lines 50,000 / 52,000 / 54,000 / 56,000 / 58,000 / 60,000: at 55,000 buys rest at 50, 52 and
# 54 thousand, sells at 58 and 60 thousand, and 56,000 (the first line above the price) is empty.
LONG = fg.FuturesGridConfig(
    symbol="BTCUSDT",
    lower_price=D(50000),
    upper_price=D(60000),
    grid_count=5,
    investment=D(1000),
    leverage=D(10),
    mode=fg.Mode.LONG,
)


def _piece(quantity: Decimal, price: Decimal, leverage: Decimal, bust_factor: Decimal) -> Decimal:
    """Bybit's position margin of one fill, by hand: value / leverage + size x bankruptcy x taker."""
    initial = (quantity * price / leverage).quantize(EIGHT, rounding=ROUND_UP)
    fee = (quantity * price * bust_factor * TAKER).quantize(EIGHT, rounding=ROUND_UP)
    return initial + fee


def errors_of(config: fg.FuturesGridConfig, price: Decimal = PRICE, **kwargs: object) -> dict[str, list[str]]:
    with pytest.raises(ConfigError) as raised:
        fg.validate(config, PERP, price, **kwargs)  # type: ignore[arg-type]
    return raised.value.errors


# Sizing and the liquidation estimate ---------------------------------------------------------------


def test_a_long_grids_liquidation_after_every_buy_fills_is_bybits_formula_by_hand() -> None:
    result = fg.preview(LONG, PERP, PRICE)
    # 0.037 BTC per level: the start opens the two sells' 0.074 at 55,000, the buys add 0.037 at
    # 54, 52 and 50 thousand. Each fill reserves value / 10 + the fee to close at its bankruptcy
    # price (entry x 0.9) x 0.055%.
    bust_factor = 1 - 1 / D(10)
    fills = [(D("0.074"), D(55000)), (D("0.037"), D(54000)), (D("0.037"), D(52000)), (D("0.037"), D(50000))]
    committed = sum(_piece(q, p, D(10), bust_factor) for q, p in fills)
    assert committed == D("989.07179")  # 409.01465 + 200.78901 + 193.35238 + 185.91575
    one_more_lot = sum(_piece(q + q / 37, p, D(10), bust_factor) for q, p in fills)
    assert committed <= LONG.investment < one_more_lot  # 0.038 a level would need more than 1,000
    assert result.quantity_per_order == D("0.037")
    assert result.initial_margin == committed

    size = D("0.185")
    entry = (D("0.074") * 55000 + D("0.037") * (54000 + 52000 + 50000)) / size
    assert entry == D(53200)
    maintenance = size * entry * D("0.0033")  # 9,842 USDT: BTCUSDT's first tier, 0.33%
    # Bybit, isolated: the margin holds the fee to close at the bankruptcy price it leads to, and
    # liquidation = entry - (margin - fee to close - maintenance margin) / size.
    bust = ((entry - committed / size) / (1 - TAKER)).quantize(EIGHT, rounding=ROUND_UP)
    by_hand = (entry - (committed - size * bust * TAKER - maintenance) / size).quantize(
        EIGHT, rounding=ROUND_UP
    )
    assert result.liquidation is not None
    assert (result.liquidation.size, result.liquidation.entry_price) == (size, entry)
    assert result.liquidation.margin == committed
    assert result.liquidation_price == by_hand
    # The fee reserve cancels out of a position nothing was added to: entry - (IM - MM) / size.
    assert by_hand == entry - (size * entry / 10 - maintenance) / size == D("48055.56")
    assert result.maintenance_margin_rate == D("0.0033")


def test_the_liquidation_at_start_is_the_start_positions_own() -> None:
    result = fg.preview(LONG, PERP, PRICE)
    assert result.position_at_start == D("0.074")
    assert result.margin_at_start == _piece(D("0.074"), PRICE, D(10), D("0.9")) == D("409.01465")
    # 55,000 - (407 - 4,070 x 0.33%) / 0.074
    assert result.liquidation_price_at_start == D("49681.5")


@pytest.mark.parametrize(
    ("mode", "entry", "size", "margin", "price", "expected"),
    [
        # 1 BTC long at 10,000, 50x, MMR 0.5% -> 9,850 (Bybit's "Liquidation Price (USDT Contract)").
        (fg.Mode.LONG, D(10000), D(1), D(200), D(10000), D(9850)),
        # 1 BTC short at 8,000, 40x, MMR 0.5% -> 8,160.
        (fg.Mode.SHORT, D(8000), D(1), D(200), D(8000), D(8160)),
        # 1 BTC long at 20,000, 50x: IM 400, MM 100 -> 19,700.
        (fg.Mode.LONG, D(20000), D(1), D(400), D(20000), D(19700)),
    ],
)
def test_bybits_worked_examples_come_out_of_the_preview(
    mode: fg.Mode, entry: Decimal, size: Decimal, margin: Decimal, price: Decimal, expected: Decimal
) -> None:
    # Bybit's examples leave fees out and use a 0.5% maintenance rate: a contract with no fee and
    # one tier of 0.5%. The price is outside the range, so the start opens the whole position at it
    # (long: below the range, every level a sell; short: above it, every level a buy).
    no_fee = replace(BTC, maker_fee=D(0), taker_fee=D(0))
    perpetual = fg.Perpetual(no_fee, (RiskTier(D(1000000), D("0.005"), D("0.01"), D(0), D(100)),), D(100))
    leverage = entry * size / margin
    lower, upper = (
        (price * D("1.01"), price * D("1.03"))
        if mode is fg.Mode.LONG
        else (price * D("0.97"), price * D("0.99"))
    )
    config = replace(
        LONG,
        lower_price=lower,
        upper_price=upper,
        grid_count=2,
        investment=margin,
        leverage=leverage,
        mode=mode,
    )
    fg.validate(config, perpetual, price, max_leverage=D(100))
    result = fg.preview(config, perpetual, price)
    assert abs(result.position_at_start) == size
    assert result.initial_margin == margin
    assert result.liquidation_price_at_start == expected
    assert result.liquidation_price == expected  # no entry level: the start is the whole position


def test_the_fee_to_close_reserved_in_the_margin_cancels_out_as_on_bybit() -> None:
    # Bybit's first example with the real 0.055% taker fee: the margin also holds the fee to close
    # at the bankruptcy price 9,800 (5.39 USDT), and the liquidation price stays 9,850.
    perpetual = fg.Perpetual(BTC, (RiskTier(D(1000000), D("0.005"), D("0.01"), D(0), D(100)),), D(100))
    config = replace(
        LONG, lower_price=D(10100), upper_price=D(10300), grid_count=2, investment=D("205.39"), leverage=D(50)
    )
    result = fg.preview(config, perpetual, D(10000))
    assert result.position_at_start == D(1)
    assert result.initial_margin == D(200) + D(9800) * TAKER == D("205.39")
    assert result.liquidation_price_at_start == D(9850)


# Levels per mode -----------------------------------------------------------------------------------


def _levels(mode: fg.Mode) -> list[tuple[str, Side | None, bool | None]]:
    result = fg.preview(replace(LONG, mode=mode), PERP, PRICE)
    return [(plain(level.price), level.side, level.reduce_only) for level in result.levels]


def test_a_long_grid_opens_with_its_buys_and_closes_with_reduce_only_sells() -> None:
    assert _levels(fg.Mode.LONG) == [
        ("50,000", Side.BUY, False),
        ("52,000", Side.BUY, False),
        ("54,000", Side.BUY, False),
        ("56,000", None, None),
        ("58,000", Side.SELL, True),
        ("60,000", Side.SELL, True),
    ]


def test_a_short_grid_opens_with_its_sells_and_closes_with_reduce_only_buys() -> None:
    assert _levels(fg.Mode.SHORT) == [
        ("50,000", Side.BUY, True),
        ("52,000", Side.BUY, True),
        ("54,000", Side.BUY, True),
        ("56,000", None, None),
        ("58,000", Side.SELL, False),
        ("60,000", Side.SELL, False),
    ]
    result = fg.preview(replace(LONG, mode=fg.Mode.SHORT), PERP, PRICE)
    assert result.position_at_start == -3 * result.quantity_per_order  # the three buys' quantity
    assert result.liquidation is not None
    assert result.liquidation.size == 5 * result.quantity_per_order
    # After both sells fill: short at the average of 55,000 (x3), 58,000 and 60,000.
    assert result.liquidation.entry_price == D(56600)
    assert result.liquidation_price is not None
    assert result.liquidation_price > LONG.upper_price


def test_a_neutral_grid_starts_flat_and_every_level_opens() -> None:
    assert _levels(fg.Mode.NEUTRAL) == [
        ("50,000", Side.BUY, False),
        ("52,000", Side.BUY, False),
        ("54,000", Side.BUY, False),
        ("56,000", None, None),
        ("58,000", Side.SELL, False),
        ("60,000", Side.SELL, False),
    ]
    result = fg.preview(replace(LONG, mode=fg.Mode.NEUTRAL), PERP, PRICE)
    assert result.position_at_start == 0
    assert result.margin_at_start == 0
    assert result.liquidation_price_at_start is None
    long_side, short_side = result.liquidation, result.liquidation_short_side
    assert long_side is not None
    assert short_side is not None
    assert (long_side.entry_price, long_side.size) == (D(52000), 3 * result.quantity_per_order)
    assert (short_side.entry_price, short_side.size) == (D(59000), 2 * result.quantity_per_order)
    # Both sides' margins fit the investment together.
    assert long_side.margin + short_side.margin == result.initial_margin <= LONG.investment


def test_profit_per_grid_is_in_usdt_after_maker_fees_and_on_the_levels_margin() -> None:
    result = fg.preview(LONG, PERP, PRICE)
    q = result.quantity_per_order
    top = q * (D(60000) * (1 - MAKER) - D(58000) * (1 + MAKER))
    bottom = q * (D(52000) * (1 - MAKER) - D(50000) * (1 + MAKER))
    assert (result.profit_per_grid_min, result.profit_per_grid_max) == (top, bottom)
    assert result.profit_per_grid_min_fraction == top / (q * D(58000) / 10)
    assert result.profit_per_grid_max_fraction == bottom / (q * D(50000) / 10)


# Validation -------------------------------------------------------------------------------------


def test_leverage_runs_from_one_to_the_callers_cap() -> None:
    assert errors_of(replace(LONG, leverage=D(0))) == {
        "leverage": ["Choose a leverage from 1x to 20x (this server's limit)."]
    }
    assert "leverage" in errors_of(replace(LONG, leverage=D(21)))
    fg.validate(replace(LONG, leverage=D(20)), PERP, PRICE)
    fg.validate(replace(LONG, leverage=D(50)), PERP, PRICE, max_leverage=D(50))


def test_the_symbols_own_leverage_limit_applies_beyond_the_cap() -> None:
    errors = errors_of(replace(LONG, leverage=D(120)), max_leverage=D(200))
    assert errors == {"leverage": ["Choose a leverage from 1x to 100x (BTCUSDT's limit)."]}


def test_a_large_position_is_held_to_its_risk_limit_tiers_leverage() -> None:
    # About 2.08 million USDT of position: Bybit's third BTCUSDT tier, 90x at most.
    errors = errors_of(replace(LONG, investment=D(23000), leverage=D(95)), max_leverage=D(100))
    assert errors["leverage"][0].startswith("A position worth 2,")
    assert "allows at most 90x on BTCUSDT" in errors["leverage"][0]
    too_big = errors_of(replace(LONG, investment=D(40000), leverage=D(90)), max_leverage=D(100))
    assert "above the largest risk limit for BTCUSDT (2,600,000 USDT)" in too_big["investment"][0]


def test_the_range_grid_count_and_margin_are_checked_in_traders_words() -> None:
    errors = errors_of(replace(LONG, lower_price=D(60000), investment=D(0), grid_count=1))
    assert errors == {
        "upper_price": ["The upper price must be above the lower price."],
        "grid_count": ["Use between 2 and 200 grids."],
        "investment": ["The margin to invest must be above zero."],
    }


def test_a_margin_too_small_for_the_lot_says_what_would_do() -> None:
    # 5 levels of 0.001 BTC (the lot) at 10x need about 27 USDT of margin.
    errors = errors_of(replace(LONG, investment=D(20)))
    assert errors == {
        "investment": [
            "With 5 grids at 10x, each order would be less than 0.001 BTC; the exchange's minimum is "
            "0.001 BTC and 5 USDT per order. Use fewer grids, more leverage, or a margin of at least 27 USDT."
        ]
    }
    fg.validate(replace(LONG, investment=D(27)), PERP, PRICE)


@pytest.mark.parametrize(
    ("mode", "take_profit", "stop_loss", "fields"),
    [
        (fg.Mode.LONG, D(59000), D(51000), {"take_profit_price", "stop_loss_price"}),
        (fg.Mode.LONG, D(61000), D(49000), set()),
        (fg.Mode.SHORT, D(61000), D(49000), {"take_profit_price", "stop_loss_price"}),
        (fg.Mode.SHORT, D(49000), D(61000), set()),
        (fg.Mode.NEUTRAL, D(55000), D(49000), {"take_profit_price"}),
    ],
)
def test_exits_sit_on_the_side_of_the_range_the_mode_needs(
    mode: fg.Mode, take_profit: Decimal, stop_loss: Decimal, fields: set[str]
) -> None:
    config = replace(LONG, mode=mode, take_profit_price=take_profit, stop_loss_price=stop_loss)
    if fields:
        assert set(errors_of(config)) == fields
    else:
        fg.validate(config, PERP, PRICE)


# Warnings ---------------------------------------------------------------------------------------


def test_a_liquidation_inside_the_range_is_warned_of() -> None:
    result = fg.preview(replace(LONG, leverage=D(20)), PERP, PRICE)
    assert result.liquidation_price == D("50715.56")
    assert (
        "Your position would be liquidated at 50,715.6, inside your range (50,000 to 60,000), once the buys "
        "below the price have filled: lower the leverage or raise the lower price." in result.warnings
    )
    early = [w for w in result.warnings if "before the buy at 52,000 fills" in w]
    assert len(early) == 1
    assert any(w.startswith("High leverage: at 20x a move of about 5%") for w in result.warnings)


def test_a_liquidation_just_outside_the_range_is_warned_of() -> None:
    result = fg.preview(LONG, PERP, PRICE)  # 48,055.56: within 5% below 50,000
    assert D("0.05") == fg.LIQUIDATION_WARNING_DISTANCE
    assert result.warnings == (
        "Your position would be liquidated at 48,055.6, within 5% below your lower price (50,000), once "
        "the buys below the price have filled.",
        fg.FUNDING_NOTE,
    )


def test_a_short_grids_liquidation_above_the_range_is_warned_of() -> None:
    result = fg.preview(replace(LONG, mode=fg.Mode.SHORT), PERP, PRICE)
    assert result.liquidation_price == D("62073.22")
    assert any("within 5% above your upper price (60,000)" in w for w in result.warnings)


def test_low_leverage_warns_only_of_funding() -> None:
    for mode in fg.Mode:
        result = fg.preview(replace(LONG, leverage=D(2), mode=mode), PERP, PRICE)
        assert result.warnings == (
            "Funding every 8 hours is charged on the position, not included in profit per grid.",
        )


def test_a_stop_loss_past_the_liquidation_is_warned_of() -> None:
    result = fg.preview(replace(LONG, stop_loss_price=D(47000)), PERP, PRICE)
    assert (
        "Your stop-loss (47,000) is past the liquidation price (48,055.6): the position would be "
        "liquidated before the stop-loss could close it." in result.warnings
    )
    safe = fg.preview(replace(LONG, stop_loss_price=D(49000)), PERP, PRICE)
    assert not any("stop-loss" in w for w in safe.warnings)


def test_the_config_round_trips_through_json() -> None:
    config = replace(LONG, mode=fg.Mode.NEUTRAL, leverage=D("12.5"), stop_loss_price=D(40000))
    data = fg.config_to_json(config)
    assert (data["leverage"], data["mode"]) == ("12.5", "neutral")
    assert fg.config_from_json(data) == config


def test_bots_find_the_strategy_by_its_name() -> None:
    from bots.strategies import registry

    assert registry.strategy_named("futures_grid") is fg.FUTURES_GRID
    assert dict(registry.choices())["futures_grid"] == "Futures grid"


def test_the_starts_market_order_meets_the_minimum_order_value_too() -> None:
    # At 900, below the range, the start opens all five sells' quantity at market: 5 x 0.001 BTC
    # would be 4.5 USDT, under the 5 USDT minimum, so each level needs 0.002 BTC.
    config = replace(LONG, investment=D(5), leverage=D(2))
    assert fg.minimum_quantity(config, BTC, D(900)) == D("0.002")
    assert fg.minimum_quantity(config, BTC, PRICE) == D("0.001")
    errors = errors_of(replace(config, investment=D(3)), price=D(900))
    assert "a margin of at least 5 USDT" in errors["investment"][0]
    fg.validate(config, PERP, D(900))


# The running half: the orders the strategy decides -------------------------------------------

SHORT = replace(LONG, mode=fg.Mode.SHORT)
NEUTRAL = replace(LONG, mode=fg.Mode.NEUTRAL)


def _laid_out(config: fg.FuturesGridConfig) -> list[tuple[int, Side, Decimal, bool]]:
    _, intents = fg.FUTURES_GRID.initial_state(config, PERP, PRICE)
    return [(i.interval, i.side, i.price, i.reduce_only) for i in intents]


def _fill(intent: OrderIntent, quantity: Decimal | None = None) -> StrategyFill:
    filled = intent.quantity if quantity is None else quantity
    return StrategyFill(intent.interval, intent.cycle, intent.side, intent.price, filled, D("0.01"), "USDT")


def _apply(state: fg.FuturesGridState, *fills: StrategyFill) -> Decision[fg.FuturesGridState]:
    return fg.FUTURES_GRID.apply_fills(state, fills, PERP, LONG, base_available=D(0))


def _intent_at(intents: tuple[OrderIntent, ...], price: Decimal) -> OrderIntent:
    return next(i for i in intents if i.price == price)


@pytest.mark.parametrize(
    ("config", "closing"),
    [(LONG, {D(58000), D(60000)}), (SHORT, {D(50000), D(52000), D(54000)}), (NEUTRAL, set())],
)
def test_the_levels_the_start_opened_rest_reduce_only(
    config: fg.FuturesGridConfig, closing: set[Decimal]
) -> None:
    assert _laid_out(config) == [
        (0, Side.BUY, D(50000), D(50000) in closing),
        (1, Side.BUY, D(52000), D(52000) in closing),
        (2, Side.BUY, D(54000), D(54000) in closing),
        (3, Side.SELL, D(58000), D(58000) in closing),
        (4, Side.SELL, D(60000), D(60000) in closing),
    ]
    state, intents = fg.FUTURES_GRID.initial_state(config, PERP, PRICE)
    q = fg.quantity_for_investment(config, BTC, PRICE)
    assert state.quantity_per_order == q > 0
    assert {i.quantity for i in intents} == {q}
    assert all(i.cycle == 0 for i in intents)


@pytest.mark.parametrize(("config", "side"), [(LONG, Side.BUY), (SHORT, Side.SELL), (NEUTRAL, Side.BUY)])
def test_the_start_trade_opens_the_position_the_preview_shows(
    config: fg.FuturesGridConfig, side: Side
) -> None:
    trade = fg.FUTURES_GRID.start_trade(config, PERP, PRICE)
    shown = fg.preview(config, PERP, PRICE).position_at_start
    assert trade.side is side
    assert trade.quantity == abs(shown)
    assert (trade.quantity > 0) is (config.mode is not fg.Mode.NEUTRAL)
    assert trade.committed_base == 0


def test_a_long_grids_filled_buy_places_its_reduce_only_close_and_the_close_the_buy_again() -> None:
    state, intents = fg.FUTURES_GRID.initial_state(LONG, PERP, PRICE)
    q = state.quantity_per_order
    buy = _intent_at(intents, D(54000))
    opened = _apply(state, _fill(buy))
    assert opened.place == (OrderIntent(2, 1, Side.SELL, D(56000), q, reduce_only=True),)
    assert opened.cancel == ()
    closed = _apply(opened.state, _fill(opened.place[0]))
    assert closed.place == (OrderIntent(2, 2, Side.BUY, D(54000), q, reduce_only=False),)
    # A sell the start opened closes its share, then its interval buys one line lower to open again.
    sell = _intent_at(intents, D(58000))
    assert _apply(state, _fill(sell)).place == (OrderIntent(3, 1, Side.BUY, D(56000), q, reduce_only=False),)


def test_a_short_grid_mirrors_it() -> None:
    state, intents = fg.FUTURES_GRID.initial_state(SHORT, PERP, PRICE)
    q = state.quantity_per_order
    opened = _apply(state, _fill(_intent_at(intents, D(58000))))
    assert opened.place == (OrderIntent(3, 1, Side.BUY, D(56000), q, reduce_only=True),)
    assert _apply(opened.state, _fill(opened.place[0])).place == (
        OrderIntent(3, 2, Side.SELL, D(58000), q, reduce_only=False),
    )
    # A buy the start's short opened closes it, then its interval sells one line higher to open again.
    assert _apply(state, _fill(_intent_at(intents, D(54000)))).place == (
        OrderIntent(2, 1, Side.SELL, D(56000), q, reduce_only=False),
    )


def test_a_neutral_grid_opens_on_both_sides_and_each_counter_order_closes() -> None:
    state, intents = fg.FUTURES_GRID.initial_state(NEUTRAL, PERP, PRICE)
    q = state.quantity_per_order
    long_leg = _apply(state, _fill(_intent_at(intents, D(54000))))
    assert long_leg.place == (OrderIntent(2, 1, Side.SELL, D(56000), q, reduce_only=True),)
    short_leg = _apply(state, _fill(_intent_at(intents, D(58000))))
    assert short_leg.place == (OrderIntent(3, 1, Side.BUY, D(56000), q, reduce_only=True),)
    again = _apply(short_leg.state, _fill(short_leg.place[0]))
    assert again.place == (OrderIntent(3, 2, Side.SELL, D(58000), q, reduce_only=False),)


def test_a_partial_fill_waits_and_the_close_is_what_the_entry_opened() -> None:
    state, intents = fg.FUTURES_GRID.initial_state(LONG, PERP, PRICE)
    q = state.quantity_per_order
    buy = _intent_at(intents, D(52000))
    part = q - BTC.quantity_step
    half = _apply(state, _fill(buy, part))
    assert half.place == ()
    assert half.state.intervals[1].held == part
    rest = _apply(half.state, _fill(buy, BTC.quantity_step))
    assert rest.place == (OrderIntent(1, 1, Side.SELL, D(54000), q, reduce_only=True),)
    # A late fill of the order the interval has moved past changes nothing.
    assert _apply(rest.state, _fill(buy, BTC.quantity_step)) == Decision(rest.state)


def test_the_running_state_round_trips_through_json() -> None:
    state, intents = fg.FUTURES_GRID.initial_state(NEUTRAL, PERP, PRICE)
    buy = _intent_at(intents, D(50000))
    moved = _apply(state, _fill(buy, BTC.quantity_step)).state
    moved = _apply(moved, _fill(_intent_at(intents, D(60000)))).state
    data = json.loads(json.dumps(fg.FUTURES_GRID.state_to_json(moved)))
    assert fg.FUTURES_GRID.state_from_json(data) == moved
    assert data["intervals"][4]["held"] == str(moved.quantity_per_order)


def test_the_protocols_answers_for_a_grid() -> None:
    strategy: Strategy[fg.FuturesGridConfig, fg.FuturesGridState] = fg.FUTURES_GRID
    assert isinstance(strategy, Strategy)
    state, _ = strategy.initial_state(LONG, BTC, PRICE)  # the bare instrument does for the running half
    assert (strategy.checks_funds, strategy.replans) == (False, False)
    assert strategy.milestones(LONG, state, state) == ()
    assert strategy.funds_to_place(state, (0, 0), LONG, BTC) == {}
    assert strategy.on_refused(state, (0, 0), "Not enough margin.", LONG, BTC) is None
    assert strategy.open_orders(state) is None
    # The start's long goes to the sells that close it, each its own level's quantity.
    closing = [i for i in state.intervals if i.reduce_only]
    assert strategy.opening_allocations(state) == tuple((str(i.index), i.quantity) for i in closing)
    assert closing
    assert strategy.leverage(LONG) == LONG.leverage
    assert strategy.ledger_lot(3) == "3"
    assert [strategy.closes_trip(LONG, side, True) for side in (Side.SELL, Side.BUY)] == [True, False]
    assert [strategy.closes_trip(SHORT, Side.BUY, complete) for complete in (True, False)] == [True, False]
    assert not strategy.closes_trip(NEUTRAL, Side.SELL, True)  # its books count reduce-only fills
    assert strategy.start_wait(replace(LONG, trigger_price=D(54000)), PRICE, PRICE) is not None
    assert strategy.start_wait(replace(LONG, trigger_price=D(54000)), D(54000), PRICE) is None
    with pytest.raises(TypeError):
        strategy.validate(LONG, BTC, PRICE, "Bybit")  # the risk limits are the perpetual's


@pytest.mark.parametrize(
    ("config", "price", "reason"),
    [
        (
            replace(LONG, take_profit_price=D(61000), stop_loss_price=D(49000)),
            D(61000),
            ExitReason.TAKE_PROFIT,
        ),
        (replace(LONG, take_profit_price=D(61000), stop_loss_price=D(49000)), D(49000), ExitReason.STOP_LOSS),
        (replace(LONG, take_profit_price=D(61000), stop_loss_price=D(49000)), D(55000), None),
        (
            replace(SHORT, take_profit_price=D(49000), stop_loss_price=D(61000)),
            D(48000),
            ExitReason.TAKE_PROFIT,
        ),
        (
            replace(SHORT, take_profit_price=D(49000), stop_loss_price=D(61000)),
            D(62000),
            ExitReason.STOP_LOSS,
        ),
        (replace(NEUTRAL, take_profit_price=D(49000)), D(49000), ExitReason.TAKE_PROFIT),
        (replace(NEUTRAL, take_profit_price=D(49000)), D(61000), None),
    ],
)
def test_exits_by_price_close_the_position(
    config: fg.FuturesGridConfig, price: Decimal, reason: ExitReason | None
) -> None:
    fg.validate(config, PERP, PRICE)
    assert fg.FUTURES_GRID.watches_price(config)
    assert fg.FUTURES_GRID.exit_reason(config, price, None) is reason
    assert fg.FUTURES_GRID.exit_action(config, ExitReason.STOP_LOSS) is ExitAction.SELL_BASE
    assert not fg.FUTURES_GRID.watches_price(LONG)


@pytest.mark.parametrize(
    ("take_profit", "stop_loss", "equity", "reason"),
    [
        (D(10), None, D("1099.99"), None),
        (D(10), None, D("1100"), ExitReason.TAKE_PROFIT),  # +10% of the 1,000 USDT margin
        (None, D(20), D("800.01"), None),
        (None, D(20), D("800"), ExitReason.STOP_LOSS),
        (D(10), D(20), None, None),  # no books yet: nothing to compare
    ],
)
def test_exits_by_pnl_compare_the_equity_with_the_margin(
    take_profit: Decimal | None, stop_loss: Decimal | None, equity: Decimal | None, reason: ExitReason | None
) -> None:
    config = replace(LONG, investment=D(1000), take_profit_percent=take_profit, stop_loss_percent=stop_loss)
    fg.validate(config, PERP, PRICE)
    assert fg.FUTURES_GRID.watches_price(config)
    assert fg.FUTURES_GRID.exit_reason(config, PRICE, equity) is reason


def test_exits_by_pnl_are_checked_for_sense() -> None:
    errors = errors_of(replace(LONG, take_profit_percent=D(0), stop_loss_percent=D(100)))
    assert errors == {
        "take_profit_percent": ["The take-profit must be above 0% of the margin."],
        "stop_loss_percent": [
            "Choose a stop-loss above 0% and below 100% of the margin: losing all of it is a liquidation."
        ],
    }
    assert fg.config_from_json(fg.config_to_json(replace(LONG, stop_loss_percent=D("12.5")))) == replace(
        LONG, stop_loss_percent=D("12.5")
    )
