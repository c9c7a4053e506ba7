from __future__ import annotations

from dataclasses import replace
from decimal import ROUND_DOWN, Decimal

from bots.strategies import grid
from bots.strategies.grid import Direction, ExitAction, ExitReason, GridFill
from bots.tests.factories import grid_config as config
from exchanges.base import Side
from exchanges.paper.instruments import INSTRUMENTS

BTC = INSTRUMENTS["BTCUSDT"]
D = Decimal
FEE = BTC.maker_fee
PLENTY = D("100")


def fill_of(intent: grid.OrderIntent, quantity: Decimal | None = None) -> GridFill:
    quantity = intent.quantity if quantity is None else quantity
    if intent.side is Side.BUY:
        fee, asset = quantity * FEE, "BTC"
    else:
        fee, asset = quantity * intent.price * FEE, "USDT"
    return GridFill(intent.interval, intent.cycle, intent.side, intent.price, quantity, fee, asset)


def test_initial_layout_matches_the_preview() -> None:
    _, intents = grid.initial_state(config(), BTC, D("54000"))
    assert [(i.side, i.price) for i in intents] == [
        (Side.BUY, D("45000")),
        (Side.BUY, D("49000")),
        (Side.BUY, D("53000")),
        (Side.SELL, D("61000")),
        (Side.SELL, D("65000")),
    ]
    assert len({i.interval for i in intents}) == len(intents) == 5, "one order per interval"


def test_long_round_trip_sells_the_net_base_above_then_buys_back() -> None:
    cfg = config()
    state, intents = grid.initial_state(cfg, BTC, D("54000"))
    buy = intents[2]  # 53000
    q = buy.quantity

    after_buy = grid.decide(cfg, BTC, state, D("52900"), [fill_of(buy)], base_available=PLENTY)
    [sell] = after_buy.place
    net = BTC.round_quantity(q * (1 - FEE), ROUND_DOWN)
    assert (sell.side, sell.price, sell.quantity, sell.cycle) == (Side.SELL, D("57000"), net, 1)

    after_sell = grid.decide(cfg, BTC, after_buy.state, D("57100"), [fill_of(sell)], base_available=PLENTY)
    [again] = after_sell.place
    assert (again.side, again.price, again.quantity, again.cycle) == (Side.BUY, D("53000"), q, 2)
    # The published round-trip profit.
    profit = sell.quantity * sell.price * (1 - FEE) - q * buy.price
    assert profit == net * D("57000") * D("0.999") - q * D("53000")
    assert profit > 0
    assert after_sell.state.intervals[2].base_held == q - q * FEE - net, (
        "only fee dust below the lot step stays"
    )


def test_partial_fills_wait_for_the_whole_order() -> None:
    cfg = config()
    state, intents = grid.initial_state(cfg, BTC, D("54000"))
    buy = intents[2]
    half = BTC.round_quantity(buy.quantity / 2, ROUND_DOWN)

    first = grid.decide(cfg, BTC, state, D("53000"), [fill_of(buy, half)], base_available=PLENTY)
    assert first.place == ()
    assert first.state.intervals[2].filled == half
    second = grid.decide(
        cfg, BTC, first.state, D("53000"), [fill_of(buy, buy.quantity - half)], base_available=PLENTY
    )
    [sell] = second.place
    assert sell.side is Side.SELL
    assert sell.quantity <= buy.quantity - buy.quantity * FEE


def test_never_sells_more_base_than_the_bot_holds() -> None:
    cfg = config()
    state, intents = grid.initial_state(cfg, BTC, D("54000"))
    short_of_base = D("0.002")
    decision = grid.decide(cfg, BTC, state, D("53000"), [fill_of(intents[2])], base_available=short_of_base)
    [sell] = decision.place
    assert sell.quantity == short_of_base


def test_two_fills_in_one_decision_share_the_available_base() -> None:
    cfg = config()
    state, intents = grid.initial_state(cfg, BTC, D("54000"))
    fills = [fill_of(intents[2]), fill_of(intents[1])]
    available = intents[2].quantity  # enough for one sell only
    decision = grid.decide(cfg, BTC, state, D("48000"), fills, base_available=available)
    assert sum(i.quantity for i in decision.place if i.side is Side.SELL) <= available


def test_a_fill_for_an_old_cycle_is_ignored() -> None:
    cfg = config()
    state, intents = grid.initial_state(cfg, BTC, D("54000"))
    moved = grid.decide(cfg, BTC, state, D("53000"), [fill_of(intents[2])], base_available=PLENTY)
    replay = grid.decide(cfg, BTC, moved.state, D("53000"), [fill_of(intents[2])], base_available=PLENTY)
    assert replay.place == ()
    assert replay.state == moved.state


def test_exits_take_priority_and_carry_their_action() -> None:
    cfg = config(
        take_profit_price=D("70000"),
        take_profit_action=ExitAction.KEEP_BASE,
        stop_loss_price=D("40000"),
        max_drawdown=D("0.2"),
    )
    state, intents = grid.initial_state(cfg, BTC, D("54000"))
    tp = grid.decide(cfg, BTC, state, D("70000"), [fill_of(intents[3])], base_available=PLENTY)
    assert (tp.exit, tp.exit_action, tp.place) == (ExitReason.TAKE_PROFIT, ExitAction.KEEP_BASE, ())
    sl = grid.decide(cfg, BTC, state, D("39999.9"), [], base_available=PLENTY)
    assert (sl.exit, sl.exit_action) == (ExitReason.STOP_LOSS, ExitAction.SELL_BASE)
    dd = grid.decide(cfg, BTC, state, D("50000"), [], base_available=PLENTY, equity=D("800"))
    assert dd.exit is ExitReason.MAX_DRAWDOWN
    calm = grid.decide(cfg, BTC, state, D("50000"), [], base_available=PLENTY, equity=D("801"))
    assert calm.exit is None


def test_trigger_waits_for_the_price_to_cross_in_its_direction() -> None:
    above = config(trigger_price=D("56000"))
    assert not grid.trigger_reached(above, D("55000"), price_when_created=D("54000"))
    assert grid.trigger_reached(above, D("56000"), price_when_created=D("54000"))
    below = config(trigger_price=D("50000"))
    assert not grid.trigger_reached(below, D("51000"), price_when_created=D("54000"))
    assert grid.trigger_reached(below, D("49990"), price_when_created=D("54000"))
    assert grid.trigger_reached(config(), D("1"), price_when_created=D("54000"))


def test_short_round_trip_ends_with_more_base() -> None:
    cfg = config(direction=Direction.SHORT)
    state, intents = grid.initial_state(cfg, BTC, D("54000"))
    sell = intents[3]  # 61000
    q = state.quantity_per_order

    after_sell = grid.decide(cfg, BTC, state, D("61100"), [fill_of(sell)], base_available=PLENTY)
    [buy] = after_sell.place
    proceeds = q * D("61000") * (1 - FEE)
    assert (buy.side, buy.price) == (Side.BUY, D("57000"))
    assert buy.quantity == BTC.round_quantity(proceeds / D("57000"), ROUND_DOWN)

    after_buy = grid.decide(cfg, BTC, after_sell.state, D("56900"), [fill_of(buy)], base_available=PLENTY)
    [sell_again] = after_buy.place
    assert (sell_again.side, sell_again.price, sell_again.quantity) == (Side.SELL, D("61000"), q)
    assert after_buy.state.intervals[3].base_held > q, "the round trip kept extra base beyond what it sells"


def test_the_smallest_valid_grid_can_always_sell_what_it_bought() -> None:
    # A coin whose minimum quantity binds (not its minimum value): buying exactly the
    # minimum would net less than the minimum after the fee, and the interval would park.
    coin = replace(BTC, symbol="COINUSDT", base="COIN", tick_size=D("0.01"), quantity_step=D("0.001"),
                   min_quantity=D("0.01"), min_amount=D("0.01"))  # fmt: skip
    cfg = config(symbol="COINUSDT", lower_price=D("90"), upper_price=D("110"), grid_count=4)
    cfg = replace(cfg, investment=grid.minimum_investment(cfg, coin, D("100")))
    grid.validate(cfg, coin, D("100"))
    state, intents = grid.initial_state(cfg, coin, D("100"))
    for buy in (i for i in intents if i.side is Side.BUY):
        fee = buy.quantity * coin.taker_fee
        fill = GridFill(buy.interval, buy.cycle, Side.BUY, buy.price, buy.quantity, fee, "COIN")
        [sell] = grid.decide(cfg, coin, state, buy.price, [fill], base_available=PLENTY).place
        assert sell.quantity >= coin.min_quantity_at(sell.price), "a parked interval would never trade again"
