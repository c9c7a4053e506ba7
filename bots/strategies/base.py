"""What every strategy is to the engine, the preview and the backtester: a pure protocol.

No Django and no I/O here or in any strategy: the engine (bots/engine.py) does the reading,
the writing and the sending, and asks a strategy only what to do. The same strategy code so
runs live, in the preview and in the backtester's exact mode.

Orders. A strategy names each of its orders by a slot (an int it chooses: a grid interval, a
DCA safety order's number) and a cycle (bumped every time the slot gets a new order). The
engine turns (slot, cycle, side) into a deterministic client order id (bots/ids.py), so an
intent committed as pending and lost in a crash is found again, never sent twice.

State. A strategy's state is a plain value that `state_to_json` / `state_from_json` carry to
and from the bot row losslessly (decimals as strings). The engine saves it in the same
transaction as the fill that changed it and the orders that fill planned.

The contract, step by step (docs/architecture.md, "Strategies"):
- start: `validate`, `start_wait` (a trigger), `funds_needed`, `start_trade` (at market, or
  nothing), then `initial_state` lays out the resting orders and `opening_allocations` says
  which lots the start's base is set aside for;
- before an order is sent: `funds_to_place` (free funds the account must hold first);
- an order the venue refuses (or `funds_to_place` finds unfunded): `on_refused` -> Decision,
  whose `halt` stops the bot in error;
- each booked fill: `apply_fills` -> Decision(state, orders to place, orders to cancel); the
  ledger books the fill under `ledger_lot` and counts a round trip when `closes_trip`;
- each tick, when `watches_price`: `exit_reason` (then `exit_action`: sell the base or keep
  it) and `on_price`, which may re-plan (a trailing take-profit, a timer);
- `preview` for the pages, `config_from_json` / `config_to_json` for the bot row and the API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, Protocol, TypeVar, runtime_checkable

from exchanges.base import Instrument, OrderType, Side

Json = dict[str, Any]
EXIT_LOT = "exit"  # the ledger lot an exit gathers the base into before selling it
# The start trade is a market order: a funds check leaves room for it to fill this much worse.
START_SLIPPAGE_ALLOWANCE = Decimal("0.005")
OrderKey = tuple[int, int]  # (slot, cycle): what names a strategy's order

# The time a strategy reads (a DCA cooldown, a deal's duration): the protocol hands it no clock.
# Live it is the wall clock; exact mode sets it to the candle's time. It never prices an order.
CLOCK: ContextVar[Callable[[], datetime]] = ContextVar("strategy_clock", default=lambda: datetime.now(UTC))


@contextmanager
def clock_at(now: Callable[[], datetime]) -> Iterator[None]:
    """Run strategies on another clock (the backtester's candle time, a test's)."""
    token = CLOCK.set(now)
    try:
        yield
    finally:
        CLOCK.reset(token)


ConfigT = TypeVar("ConfigT")
StateT = TypeVar("StateT")


class ExitReason(StrEnum):
    TAKE_PROFIT = "take_profit"
    STOP_LOSS = "stop_loss"
    MAX_DRAWDOWN = "max_drawdown"
    # A perpetual's mark came within the trader's distance of the position's liquidation price.
    LIQUIDATION_GUARD = "liquidation_guard"


class ExitAction(StrEnum):
    """What an exit does once the strategy's orders are cancelled: sell what the bot holds at
    market (for a futures position: close it, reduce-only), or keep it."""

    KEEP_BASE = "keep_base"
    SELL_BASE = "sell_base"


class ConfigError(ValueError):
    """Every problem with a config at once, keyed by field (or "__all__"), in a trader's words."""

    def __init__(self, errors: dict[str, list[str]]) -> None:
        super().__init__("; ".join(message for messages in errors.values() for message in messages))
        self.errors = errors


@dataclass(frozen=True)
class OrderIntent:
    """An order a strategy wants. `interval` is the strategy's slot (the name is the grid's,
    which came first). A limit order rests post-only at `price`: it never takes. A market
    order (a DCA stop loss) trades at once; its `price` is the one the decision saw, for the
    record, and is not sent. `reduce_only` may only shrink a position: futures venues only; a
    spot venue halts the bot rather than send it as an ordinary order."""

    interval: int
    cycle: int
    side: Side
    price: Decimal
    quantity: Decimal
    order_type: OrderType = OrderType.LIMIT
    reduce_only: bool = False

    @property
    def key(self) -> OrderKey:
        return (self.interval, self.cycle)


@dataclass(frozen=True)
class StrategyFill:
    """A fill the engine has matched to the slot and cycle of the strategy's order."""

    interval: int
    cycle: int
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str


@dataclass(frozen=True)
class Decision(Generic[StateT]):
    """The strategy's answer: its new state, orders to place, and orders to cancel (by key).
    Cancel-and-replace is one decision: the cancelled keys and the new intents together; the
    engine cancels before it sends, so the replacement finds the funds free."""

    state: StateT
    place: tuple[OrderIntent, ...] = ()
    cancel: tuple[OrderKey, ...] = ()
    exit: ExitReason | None = None
    exit_action: ExitAction | None = None
    # The bot must stop in error with this reason, for the trader, once the state is saved: what
    # went wrong will not mend by itself (an order the venue refuses for want of funds).
    halt: str | None = None


@dataclass(frozen=True)
class Milestone:
    """A moment in a strategy's life that traders subscribe to (a DCA deal opened or closed):
    `event` is the webhook event's name, `data` its JSON-ready details (amounts as strings)."""

    event: str
    data: Json


@dataclass(frozen=True)
class StartTrade:
    """What the start does before the resting orders: trade `quantity` base at market on `side`
    (nothing when 0), after the books take in `committed_base` (base the trader brings, valued
    at the start price: a reverse grid's)."""

    side: Side
    quantity: Decimal
    committed_base: Decimal = Decimal(0)


@dataclass(frozen=True)
class Shortfall:
    asset: str
    needed: Decimal
    available: Decimal

    @property
    def missing(self) -> Decimal:
        return self.needed - self.available


def funds_shortfall(needed: Mapping[str, Decimal], balances: Mapping[str, Decimal]) -> tuple[Shortfall, ...]:
    """Each asset the free `balances` hold less of than `needed`; empty when the bot is funded."""
    return tuple(
        Shortfall(asset, amount, balances.get(asset, Decimal(0)))
        for asset, amount in needed.items()
        if amount > 0 and balances.get(asset, Decimal(0)) < amount
    )


@dataclass(frozen=True)
class ExitSale:
    """The base's sale at market: the parts, each within the venue's limits, and what is left."""

    parts: list[Decimal]
    dust: Decimal  # below the lot step or the venue's minimum: left unsold
    largest: Decimal  # the most one market order may sell: the venue's limits, at the lot step


def exit_sale(base: Decimal, instrument: Instrument, price: Decimal) -> ExitSale:
    """Split `base` into market orders no larger than the venue takes in one (Bybit: 41.5 BTC
    for BTCUSDT), each rounded down to the lot step; a last part below the minimum is dust."""
    largest = instrument.round_quantity(
        min(instrument.max_order_quantity(OrderType.MARKET), instrument.max_amount / price)
    )
    smallest = instrument.min_quantity_at(price)
    parts: list[Decimal] = []
    left = instrument.round_quantity(base)
    while largest >= smallest and left >= smallest:
        part = min(left, largest)
        parts.append(part)
        left -= part
    return ExitSale(parts, base - sum(parts, Decimal(0)), largest)


@runtime_checkable
class Strategy(Protocol[ConfigT, StateT]):
    """One kind of bot. Implementations are stateless objects; everything lives in the config
    and the state they are handed. See the module docstring for the order of the calls."""

    name: str  # the registry's key and Bot.strategy's value: "grid"
    label: str  # for a trader's sentence: "The grid no longer fits the market"
    # Whether it ever re-plans outside fills (`on_price`) or cancels its own orders (Decision.cancel,
    # `open_orders`): the engine spends the reads those need only on a strategy that does.
    replans: bool
    # Whether `funds_to_place` ever asks for anything: the engine reads the state and the
    # balances before sending only for a strategy that does.
    checks_funds: bool

    # Config ----------------------------------------------------------------------------
    def config_from_json(self, data: Json) -> ConfigT: ...
    def config_to_json(self, config: ConfigT) -> Json: ...
    def investment(self, config: ConfigT) -> Decimal: ...
    def validate(self, config: ConfigT, instrument: Instrument, price: Decimal, venue: str) -> None:
        """Raise ConfigError listing everything a trader must fix."""
        ...

    def funds_needed(self, config: ConfigT, instrument: Instrument, price: Decimal) -> dict[str, Decimal]: ...
    def leverage(self, config: ConfigT) -> Decimal | None:
        """The leverage a perpetual's strategy trades at (set on the venue before the start);
        None for a spot strategy. It also tells the engine which market the bot trades."""
        ...

    def preview(self, config: ConfigT, instrument: Instrument, price: Decimal) -> Any: ...

    # State -----------------------------------------------------------------------------
    def state_to_json(self, state: StateT) -> Json: ...
    def state_from_json(self, data: Json) -> StateT: ...

    # Start -----------------------------------------------------------------------------
    def start_wait(self, config: ConfigT, price: Decimal, price_when_created: Decimal) -> str | None:
        """Why the bot does not start yet at `price` (a trigger), or None to start now."""
        ...

    def start_trade(self, config: ConfigT, instrument: Instrument, price: Decimal) -> StartTrade: ...
    def initial_state(
        self, config: ConfigT, instrument: Instrument, price: Decimal
    ) -> tuple[StateT, tuple[OrderIntent, ...]]:
        """The plan once the start trade is done: the state and the orders to rest."""
        ...

    def opening_allocations(self, state: StateT) -> tuple[tuple[str, Decimal], ...]:
        """(ledger lot, base) set aside from the start lot for the opening sells."""
        ...

    # Running ---------------------------------------------------------------------------
    def apply_fills(
        self,
        state: StateT,
        fills: Sequence[StrategyFill],
        instrument: Instrument,
        config: ConfigT,
        *,
        base_available: Decimal,
    ) -> Decision[StateT]:
        """Book fills into the state; `base_available`: base held and not offered yet."""
        ...

    def funds_to_place(
        self, state: StateT, key: OrderKey, config: ConfigT, instrument: Instrument
    ) -> dict[str, Decimal]:
        """Free funds the account must hold before the order `key` is sent, by asset (a DCA deal's
        whole budget before its base order); {} when the venue's own check is enough."""
        ...

    def on_refused(
        self, state: StateT, key: OrderKey, reason: str, config: ConfigT, instrument: Instrument
    ) -> Decision[StateT] | None:
        """The order `key` will never trade: the venue refused it (below its minimum, not enough
        funds) or `funds_to_place` found the account short. `reason` is in a trader's words.
        None: the state is unchanged."""
        ...

    def open_orders(self, state: StateT) -> frozenset[OrderKey] | None:
        """The keys of every order the state still wants live; the engine cancels any other
        it finds live (a cancel a crash interrupted). None: every order stays until it fills."""
        ...

    def watches_price(self, config: ConfigT) -> bool:
        """Whether the engine must read the price every tick for `exit_reason` / `on_price`."""
        ...

    def on_price(
        self, state: StateT, price: Decimal, instrument: Instrument, config: ConfigT
    ) -> Decision[StateT] | None:
        """A re-plan the price (or the time) calls for, or None when nothing changes."""
        ...

    def exit_reason(self, config: ConfigT, price: Decimal, equity: Decimal | None) -> ExitReason | None: ...
    def exit_action(self, config: ConfigT, reason: ExitReason) -> ExitAction: ...

    # The ledger's view -------------------------------------------------------------------
    def ledger_lot(self, slot: int) -> str:
        """The lot a fill of this slot's order is booked under."""
        ...

    def closes_trip(self, config: ConfigT, side: Side, complete: bool) -> bool:
        """Whether a fill on `side` (its order now complete or not) ends a round trip."""
        ...

    # Events ------------------------------------------------------------------------------
    def milestones(self, config: ConfigT, before: StateT, after: StateT) -> tuple[Milestone, ...]:
        """What happened between two saved states, for webhooks and notifications: the engine
        asks after every state change it commits, so a milestone is announced once."""
        ...
