"""Property tests on random price paths: the pure strategy, then the engine on the paper exchange.

Hypothesis draws the grid (direction, spacing, range, grid count, investment),
the start price and a path of moves, sometimes with thin volume so orders fill
in parts. Settings are pinned (`derandomize=True`) so every run checks the same
examples and a failure reproduces.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal
from random import Random

import pytest
from django.db import transaction
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from accounts.tests.factories import make_user
from bots import actions, engine
from bots.models import Bot, BotStatus
from bots.strategies import grid
from bots.strategies.grid import Direction, GridConfig, GridFill, OrderIntent, Spacing
from bots.tests.conftest import grid_config, venue
from exchanges.base import Side
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper import market
from exchanges.paper.instruments import INSTRUMENTS
from exchanges.paper.service import open_paper_account
from trading.models import LIVE_STATUSES, OrderPurpose, OrderStatus

BTC = INSTRUMENTS["BTCUSDT"]
D = Decimal
FEE = BTC.maker_fee
PURE = settings(derandomize=True, max_examples=100, deadline=None)
# Each engine example ticks a real bot on PostgreSQL, some tens of ticks: keep the count modest.
ENGINE = settings(
    derandomize=True,
    max_examples=8,
    deadline=None,
    # The `db` fixture is one transaction for the whole test; each example
    # rolls its own savepoint back (see `rolled_back`), so nothing leaks between examples.
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


# Random grids and paths ------------------------------------------------------------


def on_tick(price: Decimal) -> Decimal:
    return BTC.round_price(price, ROUND_HALF_EVEN)


def walk(config: GridConfig, start: Decimal, moves: list[int]) -> list[Decimal]:
    """Prices after each move; a move is in quarters of the grid's average spacing, so a path
    crosses lines often whatever the grid's size."""
    quarter = (config.upper_price - config.lower_price) / config.grid_count / 4
    prices, price = [], start
    for move in moves:
        price = max(BTC.tick_size, on_tick(price + quarter * move))
        prices.append(price)
    return prices


@st.composite
def grids(draw: st.DrawFn) -> tuple[GridConfig, Decimal]:
    """A valid grid and a start price somewhere around its range."""
    lower = D(draw(st.integers(15_000, 40_000)))
    upper = on_tick(lower * (1 + D(draw(st.integers(4, 60))) / 100))
    start = on_tick(lower + (upper - lower) * D(draw(st.integers(-15, 115))) / 100)
    shape = GridConfig(
        symbol="BTCUSDT",
        lower_price=lower,
        upper_price=upper,
        grid_count=draw(st.integers(2, 12)),
        investment=D(1),
        spacing=draw(st.sampled_from(Spacing)),
        direction=draw(st.sampled_from(Direction)),
    )
    minimum = grid.minimum_investment(shape, BTC, start)
    # From just enough (rounding at its edge) to a few times more.
    investment = (minimum * D(draw(st.sampled_from(["1", "1.01", "1.7", "3", "6.5"])))).to_integral_value(
        rounding="ROUND_CEILING"
    )
    config = replace(shape, investment=investment)
    grid.validate(config, BTC, start)  # the draw is built to be valid; this says so loudly if not
    return config, start


moves = st.lists(st.integers(-9, 9), min_size=20, max_size=60)
# None is ample volume; a fraction of one order's quantity fills orders in parts.
volumes = st.lists(st.sampled_from([None, None, None, "0.4", "1.5"]), min_size=60, max_size=60)


# A pure venue for the pure strategy --------------------------------------------------


@dataclass
class Resting:
    intent: OrderIntent
    filled: Decimal = Decimal(0)

    @property
    def remaining(self) -> Decimal:
        return self.intent.quantity - self.filled


@dataclass
class PureVenue:
    """Resting orders and the bot's base, filling at the order's price like the paper engine."""

    base: Decimal
    resting: dict[tuple[int, int], Resting] = field(default_factory=dict)

    def offered(self) -> Decimal:
        return sum((r.remaining for r in self.resting.values() if r.intent.side is Side.SELL), D(0))

    def base_available(self) -> Decimal:
        return self.base - self.offered()

    def place(self, intents: tuple[OrderIntent, ...]) -> None:
        for intent in intents:
            busy = [key for key, r in self.resting.items() if key[0] == intent.interval and r.remaining > 0]
            assert not busy, f"interval {intent.interval} already holds {busy} when {intent} is placed"
            if intent.side is Side.SELL:
                assert intent.quantity <= self.base_available(), "a sell of base the bot does not hold"
            self.resting[(intent.interval, intent.cycle)] = Resting(intent)

    def move(self, low: Decimal, high: Decimal, volume: Decimal | None) -> list[GridFill]:
        """Fill what [low, high] crosses, best price first, `volume` capping each side."""
        live = [r for r in self.resting.values() if r.remaining > 0]
        buys = sorted((r for r in live if r.intent.side is Side.BUY and r.intent.price >= low),
                      key=lambda r: -r.intent.price)  # fmt: skip
        sells = sorted((r for r in live if r.intent.side is Side.SELL and r.intent.price <= high),
                       key=lambda r: r.intent.price)  # fmt: skip
        fills = []
        for side_orders in (buys, sells):
            left = volume
            for order in side_orders:
                quantity = order.remaining if left is None else min(order.remaining, left)
                if quantity <= 0:
                    break
                fills.append(self._fill(order, quantity))
                if left is not None:
                    left -= quantity
        return fills

    @staticmethod
    def partial_fills_seen(fills: list[GridFill]) -> bool:
        sizes = Counter((f.interval, f.cycle) for f in fills)
        return any(count > 1 for count in sizes.values())

    def _fill(self, order: Resting, quantity: Decimal) -> GridFill:
        intent = order.intent
        order.filled += quantity
        if intent.side is Side.BUY:
            fee, asset = quantity * FEE, BTC.base
            self.base += quantity - fee
        else:
            fee, asset = quantity * intent.price * FEE, BTC.quote
            self.base -= quantity
        assert self.base >= 0
        return GridFill(intent.interval, intent.cycle, intent.side, intent.price, quantity, fee, asset)


def opening(config: GridConfig, start: Decimal) -> tuple[grid.GridState, tuple[OrderIntent, ...], PureVenue]:
    state, intents = grid.initial_state(config, BTC, start)
    sizing = grid.size_grid(config, BTC, start, state.quantity_per_order)
    # What the start trade leaves the bot: a long grid's purchase net of its fee; a reverse
    # grid keeps exactly the base its sells offer.
    held = (
        sizing.base_to_buy * (1 - BTC.taker_fee)
        if config.direction is Direction.LONG
        else sizing.base_for_sells
    )
    pure = PureVenue(base=held)
    pure.place(intents)
    return state, intents, pure


def volume_for(choice: str | None, state: grid.GridState) -> Decimal | None:
    return None if choice is None else BTC.round_quantity(state.quantity_per_order * D(choice), ROUND_DOWN)


def check_decision(before: Decimal, decision: grid.Decision) -> None:
    """No sell beyond the base on hand, overall or in its interval; intents match the state."""
    sells = [intent for intent in decision.place if intent.side is Side.SELL]
    assert sum((s.quantity for s in sells), D(0)) <= before
    intervals = decision.state.intervals
    for intent in decision.place:
        interval = intervals[intent.interval]
        assert (intent.side, intent.cycle, intent.quantity) == (
            interval.side,
            interval.cycle,
            interval.quantity,
        )
        assert intent.quantity >= BTC.min_quantity_at(intent.price)
        assert intent.price in decision.state.lines
        if intent.side is Side.SELL:
            assert intent.quantity <= interval.base_held
    assert len({intent.interval for intent in decision.place}) == len(decision.place), "one per interval"
    assert all(i.base_held >= 0 and i.quote_held >= 0 for i in intervals)


def drive(
    config: GridConfig, start: Decimal, path: list[Decimal], vols: list[str | None]
) -> Iterator[tuple[list[GridFill], Decimal, grid.Decision]]:
    """Run the strategy along `path`, one decision per move; yields each move's fills."""
    state, _, pure = opening(config, start)
    previous = start
    for price, choice in zip(path, vols, strict=False):
        fills = pure.move(min(previous, price), max(previous, price), volume_for(choice, state))
        available = pure.base_available()
        decision = grid.decide(config, BTC, state, price, fills, base_available=available)
        check_decision(available, decision)
        pure.place(decision.place)
        # The base the intervals hold is the bot's base, less the start purchase's fee dust.
        assert sum((i.base_held for i in decision.state.intervals), D(0)) <= pure.base
        state, previous = decision.state, price
        yield fills, available, decision


@PURE
@given(grids(), moves, volumes)
def test_one_order_per_interval_and_never_a_sell_beyond_the_base_held(
    drawn: tuple[GridConfig, Decimal], path_bp: list[int], vols: list[str | None]
) -> None:
    config, start = drawn
    decisions = list(drive(config, start, walk(config, start, path_bp), vols))
    assert len(decisions) == len(path_bp)
    fills = [fill for step_fills, _, _ in decisions for fill in step_fills]
    event(f"{config.direction} grid")
    event("fills: " + ("none" if not fills else "1-9" if len(fills) < 10 else "10+"))
    event("some partial fills" if PureVenue.partial_fills_seen(fills) else "whole fills only")
    event("bursts of 2+ fills" if any(len(step) > 1 for step, _, _ in decisions) else "single fills")


def test_the_pure_venue_catches_a_second_order_in_a_busy_interval() -> None:
    """The property above can fail: placing the opening layout twice is refused."""
    config = grid_config()
    _state, intents, pure = opening(config, D(54000))
    again = tuple(OrderIntent(i.interval, i.cycle + 1, i.side, i.price, i.quantity) for i in intents)
    with pytest.raises(AssertionError, match="already holds"):
        pure.place(again)


@PURE
@given(grids(), moves, volumes, st.randoms(use_true_random=False))
def test_fills_one_at_a_time_or_in_a_burst_give_the_same_grid(
    drawn: tuple[GridConfig, Decimal], path_bp: list[int], vols: list[str | None], shuffle: Random
) -> None:
    """The fills of one move (all for orders resting before it), applied in one call in any
    order, or one call each, leave the same state and plan the same orders."""
    config, start = drawn
    state, _, pure = opening(config, start)
    previous = start
    for price, choice in zip(walk(config, start, path_bp), vols, strict=False):
        fills = pure.move(min(previous, price), max(previous, price), volume_for(choice, state))
        burst = list(fills)
        shuffle.shuffle(burst)
        together = grid.decide(config, BTC, state, price, burst, base_available=pure.base_available())

        one_by_one, planned = state, list[OrderIntent]()
        offered_before = pure.offered() + sum((f.quantity for f in fills if f.side is Side.SELL), D(0))
        base_before = pure.base + sum(
            (-f.quantity + f.fee if f.side is Side.BUY else f.quantity for f in fills), D(0)
        )
        base, offered = base_before, offered_before
        for fill in fills:
            # What the engine would pass after booking this one fill.
            if fill.side is Side.BUY:
                base += fill.quantity - fill.fee
            else:
                base -= fill.quantity
                offered -= fill.quantity
            step = grid.decide(config, BTC, one_by_one, price, [fill], base_available=base - offered)
            offered += sum((i.quantity for i in step.place if i.side is Side.SELL), D(0))
            one_by_one = step.state
            planned.extend(step.place)

        assert together.state == one_by_one
        assert set(together.place) == set(planned)
        assert len(together.place) == len(planned)
        pure.place(together.place)
        state, previous = together.state, price


# The engine on the paper exchange ---------------------------------------------------

START_USDT, START_BTC = D(5000), D("0.5")


@contextmanager
def rolled_back() -> Iterator[None]:
    """One example's world, undone afterwards: the market, the trader, the bot and its books."""
    with transaction.atomic():
        yield
        transaction.set_rollback(True)


def new_bot(config: GridConfig, start: Decimal) -> Bot:
    market.set_price("BTCUSDT", start)
    owner = make_user()
    # Some base too, as a reverse grid starts from base.
    paper = open_paper_account("Property account", {"USDT": START_USDT, "BTC": START_BTC})
    account = ExchangeAccount.objects.create(
        owner=owner,
        label="Paper",
        exchange=ExchangeName.PAPER,
        environment=Environment.PAPER,
        paper_account=paper,
    )
    price = actions.check_bot_config(account, config)
    bot = actions.do_create_bot(owner, account, "Property grid", config, price)
    actions.do_start_bot(bot)
    for _ in range(2):  # sends the start trade, then books it and lays out the grid
        assert engine.run_tick(bot.pk)
    bot.refresh_from_db()
    assert bot.status == BotStatus.RUNNING, bot.status_reason
    return bot


@dataclass
class Seen:
    """The books at the previous check."""

    grid_profit: Decimal
    fees: dict[str, Decimal]

    @classmethod
    def at_start(cls, bot: Bot) -> Seen:
        """After the start trade, which may realise its market slippage as a loss."""
        assert bot.books is not None
        return cls(bot.books.realized, dict(bot.books.fees_by_asset))


def tick_and_check(bot: Bot, seen: Seen) -> Bot:
    assert engine.run_tick(bot.pk)
    bot.refresh_from_db()
    check_books(bot, seen)
    return bot


def check_books(bot: Bot, seen: Seen) -> None:
    """What must hold after every tick."""
    assert bot.status == BotStatus.RUNNING, bot.status_reason
    mark = market.last_price("BTCUSDT")
    ledger = bot.books
    assert ledger is not None
    summary = ledger.summary(mark)
    # Every grid here is wider than two fees, so no trade books a realised loss beyond the fees
    # paid on it: a bigger drop is cost booked as profit or loss that is not.
    fees_paid = sum(
        (
            (amount - seen.fees.get(asset, D(0))) * (mark if asset == BTC.base else 1)
            for asset, amount in summary.fees_by_asset.items()
        ),
        D(0),
    )
    assert summary.grid_profit >= seen.grid_profit - fees_paid, (seen.grid_profit, summary.grid_profit)
    seen.grid_profit, seen.fees = summary.grid_profit, dict(summary.fees_by_asset)
    assert (
        summary.grid_profit + summary.unrealized_pnl - summary.fees_not_netted
        == summary.equity - summary.investment
    )
    assert all(lot.base >= 0 for lot in ledger.lots.values()), ledger.lots
    # The bot is the account's only trader, so the venue's books are the ledger's, to the unit,
    # once we allow for fills the bot has not seen yet: those of orders that traded the moment
    # this tick sent them, after its reconcile. The next tick books them.
    exchange = venue(bot)
    recorded = set(bot.fills.values_list("trade_id", flat=True))
    unseen = [fill for fill in exchange.fills_since("BTCUSDT", None) if fill.trade_id not in recorded]
    assert not any(fill.is_maker for fill in unseen), "a resting order's fill was missed by the reconcile"
    unseen_base = sum(
        (fill.quantity - fill.fee if fill.side is Side.BUY else -fill.quantity for fill in unseen), D(0)
    )
    unseen_quote = sum(
        (-fill.quantity * fill.price if fill.side is Side.BUY else fill.quantity * fill.price - fill.fee
         for fill in unseen),
        D(0),
    )  # fmt: skip
    balances = exchange.balances()
    # A reverse grid's ledger holds the committed base as bought with the investment at the start price.
    committed = opening_base(bot)
    assert bot.price_at_start is not None
    assert balances["BTC"].total - unseen_base - START_BTC == ledger.base - committed
    assert (
        balances["USDT"].total - unseen_quote - START_USDT
        == ledger.quote - ledger.investment + committed * bot.price_at_start
    )
    # No sell was ever refused for want of base (nor anything else refused).
    assert not bot.orders.filter(status=OrderStatus.REJECTED).exists()
    live = bot.orders.filter(purpose=OrderPurpose.GRID, status__in=LIVE_STATUSES)
    per_cycle = Counter(live.values_list("interval", "cycle"))
    assert all(count == 1 for count in per_cycle.values()), per_cycle
    per_interval = Counter(interval for interval, _ in per_cycle)
    assert all(count == 1 for count in per_interval.values()), per_interval
    # Every order the venue holds is one the bot knows to be live: no orphans.
    venue_open = {order.client_order_id for order in venue(bot).open_orders("BTCUSDT")}
    assert venue_open <= set(live.values_list("client_order_id", flat=True))


def opening_base(bot: Bot) -> Decimal:
    """Base the ledger holds that the account had before the bot: a reverse grid's commitment."""
    config = bot.grid_config
    if config.direction is Direction.LONG:
        return D(0)
    assert bot.price_at_start is not None
    quantity = grid.quantity_for_investment(config, BTC, bot.price_at_start)
    sizing = grid.size_grid(config, BTC, bot.price_at_start, quantity)
    return sizing.base_for_sells + sizing.base_to_sell


def check_every_fill_recorded_once(bot: Bot, seen: Seen) -> None:
    """Tick without moving the price until the last fills (of orders that traded as they were
    placed) are in; then the bot's fills are the venue's, each once."""
    for _ in range(3):
        bot = tick_and_check(bot, seen)
    venue_fills = [fill.trade_id for fill in venue(bot).fills_since("BTCUSDT", None)]
    recorded = list(bot.fills.values_list("trade_id", flat=True))
    assert len(recorded) == len(set(recorded))
    assert sorted(recorded) == sorted(venue_fills)
    for order in bot.orders.filter(purpose=OrderPurpose.GRID):
        assert order.filled_quantity == sum((f.quantity for f in order.fills.all()), D(0))


@st.composite
def engine_grids(draw: st.DrawFn) -> tuple[GridConfig, Decimal]:
    """Grids a 5,000 USDT / 0.5 BTC account can fund, started inside their range."""
    lower = D(draw(st.integers(40_000, 60_000)))
    upper = on_tick(lower * (1 + D(draw(st.integers(8, 40))) / 100))
    start = on_tick(lower + (upper - lower) * D(draw(st.integers(5, 95))) / 100)
    config = GridConfig(
        symbol="BTCUSDT",
        lower_price=lower,
        upper_price=upper,
        grid_count=draw(st.integers(2, 8)),
        investment=D(draw(st.sampled_from([600, 1000, 2500]))),
        spacing=draw(st.sampled_from(Spacing)),
        direction=draw(st.sampled_from(Direction)),
    )
    grid.validate(config, BTC, start)
    return config, start


engine_moves = st.lists(st.integers(-9, 9), min_size=10, max_size=16)
engine_volumes = st.lists(st.sampled_from([None, None, "0.004", "0.0015"]), min_size=16, max_size=16)


def move_market(price: Decimal, volume: str | None) -> None:
    market.set_price("BTCUSDT", price, volume=D(volume) if volume else None)


@ENGINE
@given(engine_grids(), engine_moves, engine_volumes)
def test_the_books_stay_exact_after_every_tick(
    db: None, drawn: tuple[GridConfig, Decimal], path: list[int], vols: list[str | None]
) -> None:
    config, start = drawn
    with rolled_back():
        bot = new_bot(config, start)
        seen = Seen.at_start(bot)
        check_books(bot, seen)
        for price, volume in zip(walk(config, start, path), vols, strict=False):
            move_market(price, volume)
            bot = tick_and_check(bot, seen)
        check_every_fill_recorded_once(bot, seen)
        event(f"{config.direction} grid")
        event("round trips" if bot.books and bot.books.round_trips else "no round trip")
        event(
            "partial fills"
            if bot.orders.filter(fills__isnull=False).annotate()
            and any(o.fills.count() > 1 for o in bot.orders.all())
            else "whole fills"
        )


@settings(ENGINE, max_examples=5)
@given(
    engine_grids(),
    engine_moves,
    st.lists(st.integers(2, 4), min_size=16, max_size=16),
)
def test_a_path_ticked_step_by_step_or_in_bursts_is_booked_exactly(
    db: None, drawn: tuple[GridConfig, Decimal], path: list[int], bursts: list[int]
) -> None:
    """Several moves between two ticks fill several orders at once. The results need not
    match the step-by-step run: a counter-order is only placed at the tick after its fill, so
    a burst skips round trips the steady run makes (and can trade some orders late, at a
    better price). What must hold either way: exact books after every tick, every venue
    fill recorded once, and no sell refused."""
    config, start = drawn
    prices = walk(config, start, path)
    for grouping in ([1] * len(prices), bursts):
        with rolled_back():
            bot = new_bot(config, start)
            seen = Seen.at_start(bot)
            check_books(bot, seen)
            position = 0
            for size in grouping:
                for price in prices[position : position + size]:
                    move_market(price, None)
                position += size
                bot = tick_and_check(bot, seen)
                if position >= len(prices):
                    break
            check_every_fill_recorded_once(bot, seen)
