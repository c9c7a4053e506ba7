"""A bot replaying real BTCUSDT 5-minute candles, on the paper exchange and through the Bybit
simulator with the real pybit adapter; its books against a computation by hand from its fills.

The slice starts at candle 5500 (2023-01-21, after the rally, at 23,259.5) with a grid of
22,400-23,200 in 8 intervals: the price opens above the range, so the grid starts with buys
only and needs no start trade. Every round trip is then a grid buy and the sell above it,
which the published formula prices exactly. The following candles range through the grid.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from accounts.models import User
from accounts.tests.factories import make_user
from bots import actions, engine
from bots.models import Bot, BotStatus
from bots.strategies.grid import GridConfig
from exchanges.base import Exchange, Fill, Side
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper import feeds, market
from exchanges.paper.instruments import SPOT_FEE
from exchanges.paper.models import PaperMarket
from exchanges.paper.service import open_paper_account
from exchanges.registry import exchange_for_account
from exchanges.simulator.server import BybitSimulator, running_simulator
from trading.ledger import LedgerSummary
from trading.models import LIVE_STATUSES

D = Decimal
SYMBOL = "BTCUSDT"
SLICE_START = 5500
USDT = D(5000)
CONFIG = GridConfig(
    symbol=SYMBOL, lower_price=D(22400), upper_price=D(23200), grid_count=8, investment=D(1000)
)
GRID_ID = re.compile(r"^gw\d+r\d+-(?P<interval>\d+)-(?P<cycle>\d+)(?P<side>[bs])$")


def replay_feed() -> feeds.ReplayFeed:
    feed = feeds.feed_for(SYMBOL)
    assert isinstance(feed, feeds.ReplayFeed), "the real 5-minute file must be in PRICE_DATA_DIR"
    return feed


def open_market_at_slice() -> feeds.PricePoint:
    """The market at the slice's first close; `advance` then steps through the file from there."""
    point = replay_feed().point_at(SLICE_START)
    market.set_price(SYMBOL, point.price)
    PaperMarket.objects.filter(symbol=SYMBOL).update(feed_position=SLICE_START + 1)
    return point


def start_bot(owner: User, account: ExchangeAccount) -> Bot:
    price = actions.check_bot_config(account, CONFIG)
    bot = actions.do_create_bot(owner, account, "Replay grid", CONFIG, price)
    actions.do_start_bot(bot)
    for _ in range(2):
        assert engine.run_tick(bot.pk)
    bot.refresh_from_db()
    assert bot.status == BotStatus.RUNNING, bot.status_reason
    assert bot.orders.filter(purpose="grid", side="sell").count() == 0, "above the range: buys only"
    return bot


def replay(bot: Bot, candles: int) -> Decimal:
    """One candle, one tick; then ticks without a candle until the last fills are booked."""
    feed = replay_feed()
    for _ in range(candles):
        market.advance(SYMBOL, feed)
        assert engine.run_tick(bot.pk)
    for _ in range(2):  # orders that traded as they were sent are booked by the next reconcile
        assert engine.run_tick(bot.pk)
    bot.refresh_from_db()
    assert bot.status == BotStatus.RUNNING, bot.status_reason
    return market.last_price(SYMBOL)


# The books by hand ------------------------------------------------------------------


@dataclass(frozen=True)
class Expected:
    grid_profit: Decimal
    trips: list[Decimal]
    base: Decimal
    quote: Decimal
    open_cost: Decimal
    buys: int
    sells: int

    def unrealized(self, mark: Decimal) -> Decimal:
        return self.base * mark - self.open_cost


def by_hand(fills: list[Fill], investment: Decimal) -> Expected:
    """From the venue's fills alone. Each grid order fills whole in this slice (real volume
    dwarfs ours), so an order is one fill. A round trip is interval k's buy at cycle c and its
    sell at c + 1, worth sell_qty*sell_price*(1-fee) - buy_qty*buy_price."""
    orders: dict[tuple[int, int], Fill] = {}
    for fill in fills:
        match = GRID_ID.match(fill.client_order_id)
        assert match, f"{fill.client_order_id} is not a grid order"
        key = (int(match["interval"]), int(match["cycle"]))
        assert key not in orders, f"order {key} filled in parts"
        assert fill.side is (Side.BUY if match["side"] == "b" else Side.SELL)
        orders[key] = fill

    trips = []
    base = quote = open_cost = D(0)
    quote = investment
    for (interval, cycle), fill in sorted(orders.items()):
        value = fill.quantity * fill.price
        if fill.side is Side.BUY:
            assert fill.fee == fill.quantity * SPOT_FEE
            assert fill.fee_asset == "BTC"
            base += fill.quantity - fill.fee
            quote -= value
            if (interval, cycle + 1) not in orders:
                open_cost += value  # bought, not sold back yet
        else:
            assert fill.fee == value * SPOT_FEE
            assert fill.fee_asset == "USDT"
            base -= fill.quantity
            quote += value - fill.fee
            bought = orders[(interval, cycle - 1)]
            trips.append(fill.quantity * fill.price * (1 - SPOT_FEE) - bought.quantity * bought.price)
    sides = [fill.side for fill in orders.values()]
    return Expected(
        grid_profit=sum(trips, D(0)),
        trips=trips,
        base=base,
        quote=quote,
        open_cost=open_cost,
        buys=sides.count(Side.BUY),
        sells=sides.count(Side.SELL),
    )


def check_books_by_hand(bot: Bot, exchange: Exchange, mark: Decimal) -> tuple[Expected, LedgerSummary]:
    expected = by_hand(exchange.fills_since(SYMBOL, None), CONFIG.investment)
    ledger = bot.books
    assert ledger is not None
    summary = ledger.summary(mark)
    assert summary.grid_profit == expected.grid_profit
    assert summary.round_trips == len(expected.trips)
    assert (summary.buys, summary.sells) == (expected.buys, expected.sells)
    assert summary.base_held == ledger.base == expected.base
    assert ledger.quote == expected.quote
    assert summary.unrealized_pnl == expected.unrealized(mark)
    assert summary.equity == expected.quote + expected.base * mark
    assert summary.grid_profit + summary.unrealized_pnl == summary.equity - summary.investment
    balances = exchange.balances()
    assert balances["BTC"].total == expected.base
    assert balances["USDT"].total == USDT - CONFIG.investment + expected.quote
    assert bot.fills.count() == expected.buys + expected.sells, "each venue fill booked once"
    return expected, summary


def assert_nothing_left_open(bot: Bot, exchange: Exchange) -> None:
    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPED, bot.status_reason
    assert exchange.open_orders(SYMBOL) == []
    assert not bot.orders.filter(status__in=LIVE_STATUSES).exists()


def settle(bot: Bot) -> None:
    for _ in range(6):
        if not engine.run_tick(bot.pk):
            break


# Paper -----------------------------------------------------------------------------


@pytest.fixture
def paper_account(db: None) -> ExchangeAccount:
    paper = open_paper_account("Replay paper", {"USDT": USDT})
    return ExchangeAccount.objects.create(
        owner=make_user(), label="Paper", exchange=ExchangeName.PAPER, environment=Environment.PAPER,
        paper_account=paper,
    )  # fmt: skip


def test_a_replay_of_real_candles_books_exactly_what_its_fills_say(paper_account: ExchangeAccount) -> None:
    open_market_at_slice()
    bot = start_bot(paper_account.owner, paper_account)
    exchange = exchange_for_account(paper_account)

    mark = replay(bot, candles=400)

    expected, summary = check_books_by_hand(bot, exchange, mark)
    assert len(expected.trips) >= 12, expected.trips
    assert all(trip > 0 for trip in expected.trips), "every interval is wider than two fees"
    print(  # noqa: T201 - reported by `pytest -s`, for the record of what the replay did
        f"\npaper replay: {len(expected.trips)} round trips, grid profit {summary.grid_profit}, "
        f"unrealised {summary.unrealized_pnl}, total {summary.total_pnl} at {mark}"
    )
    actions.do_stop_bot(bot)
    settle(bot)
    assert_nothing_left_open(bot, exchange)
    assert exchange.balances()["BTC"].total == expected.base, "a plain stop keeps the base"


def test_an_emergency_stop_on_paper_cancels_everything_and_sells_the_base(
    paper_account: ExchangeAccount,
) -> None:
    open_market_at_slice()
    bot = start_bot(paper_account.owner, paper_account)
    exchange = exchange_for_account(paper_account)
    replay(bot, candles=25)  # the top buys fill (from candle 20 on), their sells rest
    bot.refresh_from_db()
    assert bot.books is not None
    assert bot.books.base > 0
    assert {o.side for o in exchange.open_orders(SYMBOL)} == {Side.BUY, Side.SELL}

    actions.do_emergency_stop(bot, sell_base=True)
    settle(bot)

    assert_nothing_left_open(bot, exchange)
    assert exchange.balances()["BTC"].total < D("0.000001"), "only dust below the lot step stays"


# Bybit simulator -----------------------------------------------------------------------

KEY, SECRET = "replay-key", "replay-secret"


@pytest.fixture
def simulator(transactional_db: None) -> Iterator[BybitSimulator]:
    open_market_at_slice()
    # The simulator's wallet-balance values every listed instrument at its last price and
    # answers "server error" while any market has none, so ETHUSDT needs a price too.
    market.set_price("ETHUSDT", D(1600))
    with running_simulator() as running:
        running.add_key(KEY, SECRET, balances={"USDT": USDT})
        yield running


@pytest.fixture
def bybit_account(simulator: BybitSimulator) -> ExchangeAccount:
    account = ExchangeAccount(
        owner=make_user(), label="Bybit sim", exchange=ExchangeName.BYBIT, environment=Environment.CUSTOM,
        base_url=simulator.url,
    )  # fmt: skip
    account.set_credentials(KEY, SECRET)
    account.save()
    return account


@pytest.mark.slow
def test_a_replay_through_the_bybit_simulator_books_exactly_and_stops_clean(
    bybit_account: ExchangeAccount,
) -> None:
    bot = start_bot(bybit_account.owner, bybit_account)
    exchange = exchange_for_account(bybit_account)
    assert type(exchange).__name__ == "BybitExchange", "the real pybit adapter, over HTTP"

    mark = replay(bot, candles=100)

    expected, summary = check_books_by_hand(bot, exchange, mark)
    assert len(expected.trips) >= 5, expected.trips
    print(  # noqa: T201
        f"\nbybit replay: {len(expected.trips)} round trips, grid profit {summary.grid_profit}, "
        f"unrealised {summary.unrealized_pnl}, total {summary.total_pnl} at {mark}"
    )
    actions.do_stop_bot(bot)
    settle(bot)
    assert_nothing_left_open(bot, exchange)


@pytest.mark.slow
def test_an_emergency_stop_through_the_bybit_simulator_leaves_no_open_order(
    bybit_account: ExchangeAccount,
) -> None:
    bot = start_bot(bybit_account.owner, bybit_account)
    exchange = exchange_for_account(bybit_account)
    replay(bot, candles=25)
    assert {o.side for o in exchange.open_orders(SYMBOL)} == {Side.BUY, Side.SELL}

    actions.do_emergency_stop(bot, sell_base=True)
    settle(bot)

    assert_nothing_left_open(bot, exchange)
    assert exchange.balances()["BTC"].total < D("0.000001")


def test_the_hand_computation_is_not_the_ledger_echoed() -> None:
    """`by_hand` prices a trip from its own fills: a sell below its buy is a loss."""

    def fill(
        trade_id: str, client_id: str, side: Side, price: str, quantity: str, fee: str, asset: str
    ) -> Fill:
        return Fill(
            trade_id=trade_id, exchange_order_id=trade_id, client_order_id=client_id, symbol=SYMBOL,
            side=side, price=D(price), quantity=D(quantity), fee=D(fee), fee_asset=asset, is_maker=True,
            time=datetime(2023, 1, 21, tzinfo=UTC),
        )  # fmt: skip

    buy = fill("1", "gw1r1-3-0b", Side.BUY, "23000", "0.001", "0.000001", "BTC")
    sell = fill("2", "gw1r1-3-1s", Side.SELL, "22900", "0.000999", "0.0228771", "USDT")
    expected = by_hand([buy, sell], D(1000))
    assert expected.trips == [D("0.000999") * D(22900) * D("0.999") - D("0.001") * D(23000)]
    assert expected.grid_profit < 0
    assert expected.base == D(0)
    assert expected.open_cost == 0
    with pytest.raises(AssertionError):
        by_hand([buy, buy], D(1000))
