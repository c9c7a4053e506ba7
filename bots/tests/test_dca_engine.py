"""A DCA bot through the unchanged engine on the paper exchange: deals open, average down, take
profit, stop out and repeat; every order once, and the books agree with the venue throughout."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal

import pytest

from accounts.models import User
from bots import actions, engine
from bots.models import Bot, BotStatus
from bots.strategies import dca
from bots.tests.conftest import paper_account_for, venue
from bots.tests.crash import books_problems, unsettled
from exchanges.base import OrderType, Side
from exchanges.paper import market
from exchanges.paper.instruments import INSTRUMENTS
from exchanges.paper.service import open_paper_account
from trading.models import LIVE_STATUSES, Order, OrderPurpose, OrderStatus

D = Decimal
START = D(54000)
QUOTE_START = D(5000)
BTC = INSTRUMENTS["BTCUSDT"]

CONFIG = dca.DcaConfig(
    symbol="BTCUSDT",
    base_order_size=D(100),
    safety_order_size=D(50),
    price_deviation=D(1),
    max_safety_orders=3,
    max_active_safety_orders=2,
    take_profit=D(1),
)


def dca_bot(trader: User, config: dca.DcaConfig = CONFIG, *, btc: str | None = None) -> Bot:
    market.set_price("BTCUSDT", START)
    account = paper_account_for(trader)
    if btc is not None:  # a short deal sells base the account holds
        assert account.paper_account is not None
        account.paper_account = open_paper_account("short paper", {"USDT": QUOTE_START, "BTC": D(btc)})
        account.save()
    price = actions.check_bot_config(account, config, strategy="dca")
    bot = actions.do_create_bot(trader, account, "BTC DCA", config, price, strategy="dca")
    return actions.do_start_bot(bot)


def tick(bot: Bot, times: int = 1) -> dca.DcaState:
    for _ in range(times):
        engine.run_tick(bot.pk)
    bot.refresh_from_db()
    assert bot.status == BotStatus.RUNNING, bot.status_reason
    assert bot.state is not None
    return dca.state_from_json(bot.state)


def resting(bot: Bot) -> list[tuple[int, Side, Decimal]]:
    """(slot, side, price) of the bot's orders resting on the venue."""
    ours = {o.client_order_id: o for o in Order.objects.filter(bot=bot)}
    return sorted(
        (ours[o.client_order_id].interval or 0, o.side, o.price or D(0))
        for o in venue(bot).open_orders("BTCUSDT")
    )


def planned(state: dca.DcaState, config: dca.DcaConfig) -> list[tuple[int, Side, Decimal]]:
    """What the deal should have resting: its safety orders from the base order's fill price,
    and the take-profit at the average entry plus the target."""
    assert state.reference_price is not None
    assert state.average_entry is not None
    orders = [
        (
            n,
            Side.SELL if config.direction is dca.Direction.SHORT else Side.BUY,
            dca.safety_price(config, BTC, state.reference_price, n),
        )
        for n in range(state.safety_filled + 1, state.safety_placed + 1)
    ]
    target = dca.take_profit_price(config, state.average_entry, state.entry_value)
    rounding = ROUND_DOWN if config.direction is dca.Direction.SHORT else ROUND_UP
    exit_side = Side.BUY if config.direction is dca.Direction.SHORT else Side.SELL
    return sorted([*orders, (config.tp_slot, exit_side, BTC.round_price(target, rounding))])


def audit(bot: Bot) -> None:
    """No duplicate, orphan or lost order; the books agree with the venue; the state's orders
    are exactly the live ones."""
    assert not books_problems(bot, quote_start=QUOTE_START)
    assert not unsettled(bot)
    state = dca.state_from_json(bot.state) if bot.state else None
    if state is None or bot.status != BotStatus.RUNNING:
        return
    live = Counter(
        (o.interval, o.cycle)
        for o in Order.objects.filter(bot=bot, purpose=OrderPurpose.GRID, status__in=LIVE_STATUSES)
    )
    assert set(live) == set(dca.open_orders(state)), (live, state.orders)
    assert all(count == 1 for count in live.values())


def test_a_deal_opens_averages_down_takes_profit_and_the_next_starts(trader: User) -> None:
    bot = dca_bot(trader)
    state = tick(bot, 3)  # the start, the base order at market, then the deal laid out
    assert state.phase is dca.Phase.OPEN
    assert state.reference_price == D(54027)  # the base order's fill: the paper venue's ask
    assert resting(bot) == planned(state, CONFIG)
    assert [slot for slot, _, _ in resting(bot)] == [1, 2, 4]
    audit(bot)

    market.set_price("BTCUSDT", D(53400))  # safety order 1 fills
    state = tick(bot)
    assert state.safety_filled == 1
    average = state.average_entry
    assert average is not None
    target = dca.take_profit_price(CONFIG, average, state.entry_value)
    assert [p for slot, _, p in resting(bot) if slot == 4] == [BTC.round_price(target, ROUND_UP)]
    assert [slot for slot, _, _ in resting(bot)] == [2, 3, 4]  # refilled to two active
    assert resting(bot) == planned(state, CONFIG)
    tps = Order.objects.filter(bot=bot, interval=4).order_by("cycle")
    assert [o.status for o in tps] == [OrderStatus.CANCELLED, OrderStatus.OPEN]
    audit(bot)

    market.set_price("BTCUSDT", D(54500))  # the take-profit fills; the next deal opens at market
    state = tick(bot, 2)
    assert state.deals_closed == 1
    assert state.deal == 2
    assert state.phase is dca.Phase.OPEN
    [deal] = state.history
    assert deal.reason is dca.CloseReason.TAKE_PROFIT
    assert deal.safety_orders_used == 1
    assert deal.profit > 0
    assert resting(bot) == planned(state, CONFIG)
    assert [slot for slot, _, _ in resting(bot)] == [1, 2, 4]
    books = bot.books
    assert books is not None
    assert books.round_trips == 1
    assert books.realized == pytest.approx(deal.profit, abs=D("0.01"))
    audit(bot)

    actions.do_stop_bot(bot)
    for _ in range(3):
        engine.run_tick(bot.pk)
    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPED
    assert not venue(bot).open_orders("BTCUSDT")


def test_max_deals_ends_the_deals_and_the_bot_rests(trader: User) -> None:
    bot = dca_bot(trader, replace(CONFIG, max_deals=1))
    tick(bot, 3)
    market.set_price("BTCUSDT", D(55000))
    state = tick(bot, 2)
    assert state.deals_closed == 1
    assert state.phase is dca.Phase.WAITING
    assert not venue(bot).open_orders("BTCUSDT")
    assert Order.objects.filter(bot=bot, interval=0).count() == 1
    audit(bot)


def test_the_stop_loss_sells_at_market_and_the_bot_carries_on(trader: User) -> None:
    config = replace(CONFIG, stop_loss=D(3), max_safety_orders=1, max_active_safety_orders=1, max_deals=2)
    bot = dca_bot(trader, config)
    tick(bot, 3)
    market.set_price("BTCUSDT", D(53400))  # the only safety order fills
    tick(bot)
    market.set_price("BTCUSDT", D(51500))  # 3% under the average: the stop
    state = tick(bot, 3)
    [deal] = state.history
    assert deal.reason is dca.CloseReason.STOP_LOSS
    assert deal.profit < 0
    stop = Order.objects.get(bot=bot, interval=config.sl_slot)
    assert (stop.order_type, stop.side, stop.status) == (OrderType.MARKET, Side.SELL, OrderStatus.FILLED)
    assert state.deal == 2  # the next deal opened at once
    assert state.phase is dca.Phase.OPEN
    audit(bot)


def test_the_trailing_take_profit_follows_the_price_and_sells_on_the_reversal(trader: User) -> None:
    config = replace(CONFIG, trailing_deviation=D("0.5"), max_deals=1)
    bot = dca_bot(trader, config)
    tick(bot, 3)
    assert [slot for slot, _, _ in resting(bot)] == [1, 2]  # no take-profit rests
    market.set_price("BTCUSDT", D(54700))
    assert tick(bot).trailing_peak == D(54700)
    market.set_price("BTCUSDT", D(55500))
    assert tick(bot).trailing_peak == D(55500)
    market.set_price("BTCUSDT", D(55300))  # within 0.5% of the peak: holds
    assert tick(bot).phase is dca.Phase.OPEN
    market.set_price("BTCUSDT", D(55200))  # 0.54% off the peak: sells at market
    state = tick(bot, 2)
    [deal] = state.history
    assert deal.reason is dca.CloseReason.TRAILING
    assert deal.profit > 0
    assert not venue(bot).open_orders("BTCUSDT")
    audit(bot)


def test_a_short_deal_sells_the_accounts_base_and_buys_it_back_lower(trader: User) -> None:
    config = replace(CONFIG, direction=dca.Direction.SHORT, max_deals=1)
    bot = dca_bot(trader, config, btc="0.1")
    state = tick(bot, 3)
    assert resting(bot) == planned(state, config)
    assert [(slot, side) for slot, side, _ in resting(bot)] == [(1, Side.SELL), (2, Side.SELL), (4, Side.BUY)]
    assert all(price > START for slot, _, price in resting(bot) if slot != 4)
    market.set_price("BTCUSDT", D(54600))  # safety order 1 sells
    state = tick(bot)
    assert state.safety_filled == 1
    market.set_price("BTCUSDT", D(53000))  # bought back
    state = tick(bot, 2)
    [deal] = state.history
    assert deal.reason is dca.CloseReason.TAKE_PROFIT
    assert deal.profit > 0
    assert not venue(bot).open_orders("BTCUSDT")
    books = bot.books
    assert books is not None
    assert books.round_trips == 1


def test_a_cooldown_waits_before_the_next_deal(trader: User) -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    config = replace(CONFIG, start_condition=dca.StartCondition.COOLDOWN, cooldown=300)
    with dca.clock_at(lambda: now):
        bot = dca_bot(trader, config)
        tick(bot, 3)
        market.set_price("BTCUSDT", D(55000))
        state = tick(bot, 2)
    assert state.phase is dca.Phase.WAITING
    with dca.clock_at(lambda: now + timedelta(seconds=299)):
        assert tick(bot).phase is dca.Phase.WAITING
    with dca.clock_at(lambda: now + timedelta(seconds=300)):
        state = tick(bot, 2)
    assert state.deal == 2
    assert state.phase is dca.Phase.OPEN
    audit(bot)


def test_a_limit_base_order_rests_until_the_price_comes_then_the_deal_lays_out(trader: User) -> None:
    config = replace(CONFIG, base_order_type=dca.BaseOrderType.LIMIT, max_deals=1)
    bot = dca_bot(trader, config)
    state = tick(bot, 3)
    limit = START - BTC.tick_size  # a tick under the price: it rests as a maker order
    assert state.phase is dca.Phase.OPENING
    assert resting(bot) == [(0, Side.BUY, limit)]
    base_order = Order.objects.get(bot=bot, interval=0)
    assert (base_order.order_type, base_order.status) == (OrderType.LIMIT, OrderStatus.OPEN)

    market.set_price("BTCUSDT", D(54100))  # the price moves away: the deal still waits
    assert tick(bot, 2).phase is dca.Phase.OPENING
    assert resting(bot) == [(0, Side.BUY, limit)]

    market.set_price("BTCUSDT", D(53990))  # the price comes to it: filled at its limit
    state = tick(bot)
    assert state.phase is dca.Phase.OPEN
    assert state.reference_price == limit
    assert resting(bot) == planned(state, config)
    assert [slot for slot, _, _ in resting(bot)] == [1, 2, 4]
    audit(bot)

    market.set_price("BTCUSDT", D(55000))
    state = tick(bot, 2)
    [deal] = state.history
    assert deal.reason is dca.CloseReason.TAKE_PROFIT
    assert deal.average_entry > limit  # the fee in base raises the average a little
    audit(bot)
