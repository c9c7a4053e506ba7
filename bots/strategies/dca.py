"""The DCA bot (dollar-cost averaging, 3Commas-style): a base order, safety orders deeper and
deeper below it (above it, short), and a take-profit re-placed at the new average entry after
every safety fill. Pure: no Django and no I/O (bots/strategies/base.py).

A deal: the base order at market, or a limit by the price (slot 0); then up to
`max_active_safety_orders` safety orders resting as limits (slots 1..N), each filled one
refilled with the next; a take-profit limit (slot N+1) at the average entry plus the target,
cancelled and placed again after every fill that moves the average. A trailing take-profit
places no limit: once the price reaches the target it follows the price and closes at market
on a reversal of `trailing_deviation` (slot N+1, market). The stop loss closes at market (slot
N+2). When a deal closes the next starts per the start condition, until `max_deals`.

Every order's cycle is a counter in the state that only grows, so (slot, cycle) never names
two orders, across re-placements and deals; the engine's client ids stay unique.

Percentages in the config are percent ("1" is 1%). The deal's bookkeeping (fills, average
entry, profit, duration, deals counted) lives in the state; the last `HISTORY` closed deals
are kept for the bot's page.

Time: the protocol hands a strategy no clock, and a cooldown or a deal's duration needs one.
`base.CLOCK` is a context variable the backtester sets to the candle's time; live, it is the
wall clock. Reading it is the one impurity, and it never decides an order's price or size.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal
from enum import StrEnum
from typing import Any

from bots.strategies.base import (
    CLOCK,
    START_SLIPPAGE_ALLOWANCE,
    ConfigError,
    Decision,
    ExitAction,
    ExitReason,
    Json,
    Milestone,
    OrderIntent,
    OrderKey,
    StartTrade,
    StrategyFill,
    clock_at,
)
from exchanges.base import Instrument, OrderType, Side
from trading.numbers import plain

MAX_SAFETY_ORDERS = 100
HISTORY = 50  # closed deals kept in the state for the bot's page
LOT = "dca"  # the ledger lot every deal's fills are booked under
HUNDRED = Decimal(100)
PERCENT_PLACES = Decimal("0.0001")


def _now() -> str:
    return CLOCK.get()().isoformat()


class Direction(StrEnum):
    LONG = "long"
    SHORT = "short"  # spot: sells base the account holds, buys it back lower


class BaseOrderType(StrEnum):
    MARKET = "market"  # the deal opens at once, at the venue's price
    LIMIT = "limit"  # rests a tick on the favourable side of the price; the deal opens when it fills


class TakeProfitOn(StrEnum):
    BASE = "base"  # the target is a percentage of the base order
    TOTAL = "total"  # ... of everything the deal bought


class StartCondition(StrEnum):
    IMMEDIATELY = "immediately"
    PRICE = "price"  # when the price crosses `start_price`
    COOLDOWN = "cooldown"  # `cooldown` seconds after the last deal closed


class Phase(StrEnum):
    WAITING = "waiting"  # between deals
    OPENING = "opening"  # the base order is out
    OPEN = "open"  # safety orders and the take-profit rest
    CLOSING = "closing"  # a market close (stop loss, trailing take-profit) is out


class CloseReason(StrEnum):
    TAKE_PROFIT = "take_profit"
    TRAILING = "trailing_take_profit"
    STOP_LOSS = "stop_loss"
    BREAKEVEN = "breakeven_stop"


@dataclass(frozen=True)
class DcaConfig:
    symbol: str
    base_order_size: Decimal  # quote
    safety_order_size: Decimal  # quote, the first safety order's
    price_deviation: Decimal  # percent: the first safety order's distance from the base order
    max_safety_orders: int
    take_profit: Decimal  # percent of the average entry
    direction: Direction = Direction.LONG
    step_scale: Decimal = Decimal(1)
    volume_scale: Decimal = Decimal(1)
    max_active_safety_orders: int | None = None  # None: all of them rest at once
    take_profit_on: TakeProfitOn = TakeProfitOn.TOTAL
    trailing_deviation: Decimal | None = None  # percent
    stop_loss: Decimal | None = None  # percent of the average entry
    breakeven_after: int | None = None  # safety order k
    start_condition: StartCondition = StartCondition.IMMEDIATELY
    start_price: Decimal | None = None
    cooldown: int | None = None  # seconds
    max_deals: int | None = None  # None: deals repeat forever
    base_order_type: BaseOrderType = BaseOrderType.MARKET

    @property
    def active(self) -> int:
        return min(self.max_active_safety_orders or self.max_safety_orders, self.max_safety_orders)

    @property
    def tp_slot(self) -> int:
        return self.max_safety_orders + 1

    @property
    def sl_slot(self) -> int:
        return self.max_safety_orders + 2


def fraction(percent: Decimal) -> Decimal:
    return percent / HUNDRED


# The formulas ------------------------------------------------------------------------------


def step(config: DcaConfig, n: int) -> Decimal:
    """Percent from safety order n-1 to n: d·s^(n-1)."""
    return config.price_deviation * config.step_scale ** (n - 1)


def deviation(config: DcaConfig, n: int) -> Decimal:
    """Cumulative percent from the base order to safety order n: d·(s^n - 1)/(s - 1), or n·d."""
    d, s = config.price_deviation, config.step_scale
    if s == 1:
        return d * n
    return d * (s**n - 1) / (s - 1)


def safety_size(config: DcaConfig, n: int) -> Decimal:
    """Quote of safety order n: SO·v^(n-1)."""
    return config.safety_order_size * config.volume_scale ** (n - 1)


def all_safety_sizes(config: DcaConfig) -> Decimal:
    """SO·(v^N - 1)/(v - 1), or N·SO when v = 1."""
    so, v, n = config.safety_order_size, config.volume_scale, config.max_safety_orders
    if v == 1:
        return so * n
    return so * (v**n - 1) / (v - 1)


def max_funds(config: DcaConfig) -> Decimal:
    """The most one deal spends: the base order and every safety order."""
    return config.base_order_size + all_safety_sizes(config)


def base_order_price(config: DcaConfig, instrument: Instrument, price: Decimal) -> Decimal:
    """Where the base order is asked for. At market: `price`, for the record. A limit: one tick
    on the favourable side of `price` (below it long, above it short), rounded away from it:
    the nearest price that rests on the book as a maker order, since the engine sends strategy
    limits post-only and one at the last price would be refused as taking."""
    if config.base_order_type is BaseOrderType.MARKET:
        return price
    tick = instrument.tick_size
    if config.direction is Direction.SHORT:
        return instrument.round_price(price, ROUND_UP) + tick
    return instrument.round_price(price, ROUND_DOWN) - tick


def _base_order_allowance(config: DcaConfig) -> Decimal:
    """A market base order may fill worse than the price seen; a limit one never does."""
    return START_SLIPPAGE_ALLOWANCE if config.base_order_type is BaseOrderType.MARKET else Decimal(0)


def safety_price(config: DcaConfig, instrument: Instrument, reference: Decimal, n: int) -> Decimal:
    """P0·(1 - D_n) long, rounded down; P0·(1 + D_n) short, rounded up: never nearer than asked."""
    if config.direction is Direction.SHORT:
        return instrument.round_price(reference * (1 + fraction(deviation(config, n))), ROUND_UP)
    return instrument.round_price(reference * (1 - fraction(deviation(config, n))), ROUND_DOWN)


def take_profit_fraction(config: DcaConfig, entry_value: Decimal) -> Decimal:
    """The take-profit as a fraction of the average entry: on the base order, the target is
    tp·BO in quote, a smaller fraction of a deal that has bought more."""
    tp = fraction(config.take_profit)
    if config.take_profit_on is TakeProfitOn.BASE and entry_value > 0:
        return tp * config.base_order_size / entry_value
    return tp


def take_profit_price(config: DcaConfig, average: Decimal, entry_value: Decimal) -> Decimal:
    """avg·(1 + tp) long, avg·(1 - tp) short (unrounded)."""
    tp = take_profit_fraction(config, entry_value)
    return average * (1 - tp) if config.direction is Direction.SHORT else average * (1 + tp)


def _round_tp(config: DcaConfig, instrument: Instrument, price: Decimal) -> Decimal:
    # Away from the entry: the rounding never eats into the target.
    rounding = ROUND_DOWN if config.direction is Direction.SHORT else ROUND_UP
    return instrument.round_price(price, rounding)


def rebound(config: DcaConfig, price: Decimal, target: Decimal) -> Decimal:
    """Percent the price must move back from `price` to reach `target`."""
    if config.direction is Direction.SHORT:
        return (1 - target / price) * HUNDRED
    return (target / price - 1) * HUNDRED


# Validation --------------------------------------------------------------------------------


def validate(config: DcaConfig, instrument: Instrument, price: Decimal, venue: str = "the exchange") -> None:
    """Raise ConfigError listing everything a trader must fix, in their words."""
    errors: dict[str, list[str]] = {}

    def add(field_name: str, message: str) -> None:
        errors.setdefault(field_name, []).append(message)

    _check_shape(config, add)
    _check_exits(config, add)
    _check_start(config, add)
    if errors:  # the minimums below compute with the numbers checked above
        raise ConfigError(errors)
    _check_minimums(config, instrument, price, venue, add)
    if errors:
        raise ConfigError(errors)


def _check_shape(config: DcaConfig, add: Callable[[str, str], None]) -> None:
    if config.base_order_size <= 0:
        add("base_order_size", "The base order must be above zero.")
    if config.safety_order_size <= 0:
        add("safety_order_size", "The safety order must be above zero.")
    if config.price_deviation <= 0:
        add("price_deviation", "The price deviation must be above zero, such as 1 for 1%.")
    if config.step_scale <= 0:
        add("step_scale", "The step scale must be above zero; 1 keeps the steps even.")
    if config.volume_scale <= 0:
        add("volume_scale", "The volume scale must be above zero; 1 keeps the safety orders the same size.")
    if not 1 <= config.max_safety_orders <= MAX_SAFETY_ORDERS:
        add("max_safety_orders", f"Use between 1 and {MAX_SAFETY_ORDERS} safety orders.")
    active = config.max_active_safety_orders
    if active is not None and not 1 <= active <= config.max_safety_orders:
        add("max_active_safety_orders", "Keep between 1 and the maximum number of safety orders active.")
    if config.take_profit <= 0:
        add("take_profit", "The take profit must be above zero, such as 1.5 for 1.5%.")
    if (
        config.direction is Direction.LONG
        and config.price_deviation > 0
        and config.step_scale > 0
        and 1 <= config.max_safety_orders <= MAX_SAFETY_ORDERS
        and deviation(config, config.max_safety_orders) >= HUNDRED
    ):
        add(
            "max_safety_orders",
            f"The last safety order would sit {plain(_pct(deviation(config, config.max_safety_orders)))}% "
            "below the base order, at or below zero. Use fewer safety orders, a smaller deviation "
            "or a smaller step scale.",
        )


def _check_exits(config: DcaConfig, add: Callable[[str, str], None]) -> None:
    if config.trailing_deviation is not None:
        if config.trailing_deviation <= 0:
            add("trailing_deviation", "The trailing deviation must be above zero.")
        elif config.trailing_deviation >= config.take_profit:
            add(
                "trailing_deviation",
                "Keep the trailing deviation below the take profit, or a reversal could close the "
                "deal at a loss.",
            )
    if config.stop_loss is not None and not 0 < config.stop_loss < HUNDRED:
        add("stop_loss", "The stop loss is a percentage between 0 and 100, such as 10 for 10%.")
    k = config.breakeven_after
    if k is not None and not 1 <= k <= config.max_safety_orders:
        add("breakeven_after", "Choose a safety order between 1 and the maximum number of safety orders.")


def _check_start(config: DcaConfig, add: Callable[[str, str], None]) -> None:
    if config.start_condition is StartCondition.PRICE and (
        config.start_price is None or config.start_price <= 0
    ):
        add("start_price", "Give the price a deal starts at: above zero.")
    if config.start_condition is StartCondition.COOLDOWN and (config.cooldown is None or config.cooldown < 0):
        add("cooldown", "Give the wait after a deal closes, in seconds: zero or more.")
    if config.max_deals is not None and config.max_deals < 1:
        add("max_deals", "Run at least one deal, or leave it blank for no limit.")


def _check_minimums(
    config: DcaConfig, instrument: Instrument, price: Decimal, venue: str, add: Callable[[str, str], None]
) -> None:
    name = _venue_name(venue)
    bo_quantity = instrument.round_quantity(config.base_order_size / price)
    if bo_quantity < instrument.min_quantity_at(price):
        smallest = instrument.min_quantity_at(price) * price
        add(
            "base_order_size",
            f"{name} takes orders of at least {_money(smallest)} {instrument.quote} on "
            f"{config.symbol} at today's price. Raise the base order.",
        )
    for n in range(1, config.max_safety_orders + 1):
        so_price = safety_price(config, instrument, price, n)
        quantity = instrument.round_quantity(safety_size(config, n) / so_price)
        if quantity < instrument.min_quantity_at(so_price):
            add(
                "safety_order_size",
                f"Safety order {n} ({_money(safety_size(config, n))} {instrument.quote} at "
                f"{plain(so_price)}) is below the smallest order {name} takes "
                f"({_money(instrument.min_quantity_at(so_price) * so_price)} {instrument.quote}). "
                "Raise the safety order or the volume scale.",
            )
            break
        if quantity > instrument.max_quantity:
            add(
                "safety_order_size",
                f"Safety order {n} is above the largest order {name} takes. Lower the volume scale.",
            )
            break


def _venue_name(venue: str) -> str:
    return venue if venue and venue != "the exchange" else "The exchange"


def _money(value: Decimal) -> str:
    return plain(value.quantize(Decimal("0.01"), rounding=ROUND_UP))


def _pct(value: Decimal) -> Decimal:
    return value.quantize(PERCENT_PLACES, rounding=ROUND_HALF_EVEN).normalize()


# Preview -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class SafetyOrderRow:
    number: int
    step: Decimal  # percent from the previous order
    deviation: Decimal  # cumulative percent from the base order
    price: Decimal
    size: Decimal  # quote
    quantity: Decimal  # base, at the lot step
    total_size: Decimal  # quote, the base order and safety orders 1..n
    average_price: Decimal
    take_profit_price: Decimal
    rebound: Decimal  # percent from this order's price back to the take-profit


@dataclass(frozen=True)
class DcaPreview:
    reference_price: Decimal
    base_order_quantity: Decimal
    base_take_profit_price: Decimal
    safety_orders: tuple[SafetyOrderRow, ...]
    max_funds: Decimal
    lowest_price: Decimal  # the last safety order's (the highest, short)
    funds_asset: str
    funds_needed: Decimal  # in funds_asset: quote long, base short
    warnings: tuple[str, ...] = ()


def preview(config: DcaConfig, instrument: Instrument, price: Decimal) -> DcaPreview:
    """The safety-order table a deal opened at `price` would lay out, without fees; with a limit
    base order, from that order's price (`base_order_price`)."""
    price = base_order_price(config, instrument, price)  # a limit base order lays the deal out from its price
    rows: list[SafetyOrderRow] = []
    total = config.base_order_size
    base = config.base_order_size / price
    for n in range(1, config.max_safety_orders + 1):
        so_price = safety_price(config, instrument, price, n)
        size = safety_size(config, n)
        total += size
        base += size / so_price
        average = total / base
        target = _round_tp(config, instrument, take_profit_price(config, average, total))
        rows.append(
            SafetyOrderRow(
                number=n,
                step=_pct(step(config, n)),
                deviation=_pct(deviation(config, n)),
                price=so_price,
                size=size.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN),
                quantity=instrument.round_quantity(size / so_price),
                total_size=total.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN),
                average_price=instrument.round_price(average, ROUND_HALF_EVEN),
                take_profit_price=target,
                rebound=_pct(rebound(config, so_price, target)),
            )
        )
    needed = funds_needed(config, instrument, price)
    asset = instrument.base if config.direction is Direction.SHORT else instrument.quote
    return DcaPreview(
        reference_price=price,
        base_order_quantity=instrument.round_quantity(config.base_order_size / price),
        base_take_profit_price=_round_tp(
            config, instrument, take_profit_price(config, price, config.base_order_size)
        ),
        safety_orders=tuple(rows),
        max_funds=max_funds(config),
        lowest_price=rows[-1].price if rows else price,
        funds_asset=asset,
        funds_needed=needed[asset],
        warnings=tuple(_warnings(config, rows, price)),
    )


def _warnings(config: DcaConfig, rows: Sequence[SafetyOrderRow], price: Decimal) -> Iterator[str]:
    if config.stop_loss is not None:
        # The stop is set from the average entry, which follows the deal down: a safety order
        # at least as far from the base order as the stop may never fill.
        beyond = [row.number for row in rows if row.deviation >= config.stop_loss]
        if beyond:
            yield (
                f"The stop loss ({plain(config.stop_loss)}% from the average entry) may close a deal "
                f"before safety order {beyond[0]} fills."
            )
    if rows and rows[-1].rebound > config.take_profit * 10:
        yield (
            f"After the last safety order the price must move back {plain(rows[-1].rebound)}% to "
            "reach the take profit."
        )
    if config.direction is Direction.SHORT:
        yield (
            "A short deal sells base the account holds and buys it back lower: the account needs "
            "the base shown, and profit is kept in quote."
        )


# State ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LiveOrder:
    """An order the deal has out: what it asked for and what has filled."""

    slot: int
    cycle: int
    side: Side
    price: Decimal
    quantity: Decimal
    order_type: OrderType = OrderType.LIMIT
    filled: Decimal = Decimal(0)
    filled_value: Decimal = Decimal(0)  # quote, gross of fees

    @property
    def key(self) -> OrderKey:
        return (self.slot, self.cycle)

    @property
    def complete(self) -> bool:
        return self.filled >= self.quantity

    def intent(self) -> OrderIntent:
        return OrderIntent(self.slot, self.cycle, self.side, self.price, self.quantity, self.order_type)


@dataclass(frozen=True)
class DealRecord:
    """One closed deal, for the bot's page and the backtest's metrics."""

    number: int
    opened_at: str | None
    closed_at: str | None
    reason: CloseReason
    safety_orders_used: int
    average_entry: Decimal
    quantity: Decimal  # base the deal bought (sold, short), net of fees in base
    entry_value: Decimal  # quote: spent (long) or received (short)
    exit_value: Decimal  # quote: received (long) or spent (short)
    profit: Decimal


@dataclass(frozen=True)
class DcaState:
    phase: Phase
    deal: int  # the current (or last) deal's number; deals started
    seq: int  # the next order's cycle: only grows
    deal_start_cycle: int = 0  # orders of cycles below it belong to earlier deals
    orders: tuple[LiveOrder, ...] = ()
    reference_price: Decimal | None = None  # the base order's fill price: safety orders are set from it
    entry_quantity: Decimal = Decimal(0)  # base the deal took on, net of base fees
    entry_value: Decimal = Decimal(0)  # quote: spent long (with quote fees), received short (net)
    exit_quantity: Decimal = Decimal(0)
    exit_value: Decimal = Decimal(0)
    safety_filled: int = 0
    safety_placed: int = 0
    trailing_peak: Decimal | None = None  # set once the trailing take-profit is active
    breakeven_armed: bool = False
    opened_at: str | None = None
    last_closed_at: str | None = None
    last_close_price: Decimal | None = None
    carry: Decimal = Decimal(0)  # base left over from earlier deals, closed with the next one
    committed_base: Decimal = Decimal(0)  # short: the base the account brought
    deals_closed: int = 0
    total_profit: Decimal = Decimal(0)
    history: tuple[DealRecord, ...] = field(default=())

    @property
    def average_entry(self) -> Decimal | None:
        return self.entry_value / self.entry_quantity if self.entry_quantity else None

    @property
    def position(self) -> Decimal:
        """Base the open deal must still close: bought and not sold (long), sold and not bought
        back (short), with what earlier deals left over."""
        return self.entry_quantity - self.exit_quantity + self.carry

    def order(self, slot: int) -> LiveOrder | None:
        return next((o for o in self.orders if o.slot == slot), None)


# The deal's moves ----------------------------------------------------------------------------


def _entry_side(config: DcaConfig) -> Side:
    return Side.SELL if config.direction is Direction.SHORT else Side.BUY


def _exit_side(config: DcaConfig) -> Side:
    return Side.BUY if config.direction is Direction.SHORT else Side.SELL


def open_deal(
    state: DcaState, config: DcaConfig, instrument: Instrument, price: Decimal
) -> Decision[DcaState]:
    """A new deal: the base order at market, or a limit resting by the price
    (`base_order_price`), sized on its price. A limit leaves the deal opening until it has
    filled in full: partial fills wait, and the safety orders are then laid out from the
    average of its fills, like a market base order's."""
    bo_price = base_order_price(config, instrument, price)
    quantity = instrument.round_quantity(config.base_order_size / bo_price)
    order_type = OrderType.LIMIT if config.base_order_type is BaseOrderType.LIMIT else OrderType.MARKET
    bo = LiveOrder(0, state.seq, _entry_side(config), bo_price, quantity, order_type)
    opened = replace(
        state,
        phase=Phase.OPENING,
        deal=state.deal + 1,
        seq=state.seq + 1,
        deal_start_cycle=state.seq,
        orders=(bo,),
        reference_price=None,
        entry_quantity=Decimal(0),
        entry_value=Decimal(0),
        exit_quantity=Decimal(0),
        exit_value=Decimal(0),
        safety_filled=0,
        safety_placed=0,
        trailing_peak=None,
        breakeven_armed=False,
        opened_at=_now(),
    )
    return Decision(opened, (bo.intent(),))


def _book(state: DcaState, config: DcaConfig, instrument: Instrument, fill: StrategyFill) -> DcaState:
    """The fill's base and quote, net of fees in the asset received, into the deal's totals."""
    base_fee = fill.fee if fill.fee_asset == instrument.base else Decimal(0)
    quote_fee = fill.fee if fill.fee_asset == instrument.quote else Decimal(0)
    gross = fill.quantity * fill.price
    long = config.direction is Direction.LONG
    if fill.side is _entry_side(config):
        stale = fill.cycle < state.deal_start_cycle or state.phase is Phase.WAITING
        quantity = fill.quantity - base_fee if long else fill.quantity + base_fee
        if stale:  # an earlier deal's order that filled as it was cancelled: the next close takes it
            return replace(state, carry=state.carry + quantity)
        value = gross + quote_fee if long else gross - quote_fee
        return replace(
            state, entry_quantity=state.entry_quantity + quantity, entry_value=state.entry_value + value
        )
    quantity = fill.quantity + base_fee if long else fill.quantity - base_fee
    value = gross - quote_fee if long else gross + quote_fee
    return replace(state, exit_quantity=state.exit_quantity + quantity, exit_value=state.exit_value + value)


def _with_fill(state: DcaState, fill: StrategyFill) -> tuple[DcaState, LiveOrder | None]:
    """The state with the fill counted on its order; the order, or None if no longer out."""
    for order in state.orders:
        if order.key == (fill.interval, fill.cycle):
            filled = replace(
                order,
                filled=order.filled + fill.quantity,
                filled_value=order.filled_value + fill.quantity * fill.price,
            )
            orders = tuple(filled if o is order else o for o in state.orders)
            return replace(state, orders=orders), filled
    return state, None


def _take_profit_intent(state: DcaState, config: DcaConfig, instrument: Instrument) -> LiveOrder | None:
    average = state.average_entry
    if average is None or config.trailing_deviation is not None:
        return None  # a trailing take-profit rests nothing: on_price follows the price
    price = _round_tp(config, instrument, take_profit_price(config, average, state.entry_value))
    quantity = _close_quantity(state, config, instrument)
    if quantity <= 0:
        return None
    return LiveOrder(config.tp_slot, state.seq, _exit_side(config), price, quantity)


def _close_quantity(state: DcaState, config: DcaConfig, instrument: Instrument) -> Decimal:
    # Selling: never more than held (down). Buying back: the fee in base is taken from what
    # arrives, so buy that much more (up), or the account would end short of its base.
    if config.direction is Direction.SHORT:
        return instrument.round_quantity(state.position / (1 - instrument.maker_fee), ROUND_UP)
    return instrument.round_quantity(state.position, ROUND_DOWN)


def _replace_take_profit(
    state: DcaState, config: DcaConfig, instrument: Instrument
) -> tuple[DcaState, tuple[OrderIntent, ...], tuple[OrderKey, ...]]:
    """Cancel the resting take-profit and place one at the new average entry."""
    old = state.order(config.tp_slot)
    cancel = (old.key,) if old is not None else ()
    kept = tuple(o for o in state.orders if o.slot != config.tp_slot)
    new = _take_profit_intent(replace(state, orders=kept), config, instrument)
    if new is None:
        return replace(state, orders=kept), (), cancel
    return replace(state, orders=(*kept, new), seq=state.seq + 1), (new.intent(),), cancel


def _safety_order(state: DcaState, config: DcaConfig, instrument: Instrument, n: int) -> LiveOrder:
    assert state.reference_price is not None
    price = safety_price(config, instrument, state.reference_price, n)
    quantity = instrument.round_quantity(safety_size(config, n) / price)
    return LiveOrder(n, state.seq, _entry_side(config), price, quantity)


def _place_safety_orders(
    state: DcaState, config: DcaConfig, instrument: Instrument
) -> tuple[DcaState, tuple[OrderIntent, ...]]:
    """Top the resting safety orders up to the most allowed active, in order."""
    intents: list[OrderIntent] = []
    resting = sum(1 for o in state.orders if 1 <= o.slot <= config.max_safety_orders)
    while resting < config.active and state.safety_placed < config.max_safety_orders:
        order = _safety_order(state, config, instrument, state.safety_placed + 1)
        state = replace(
            state, orders=(*state.orders, order), seq=state.seq + 1, safety_placed=state.safety_placed + 1
        )
        intents.append(order.intent())
        resting += 1
    return state, tuple(intents)


def _close_deal(
    state: DcaState, config: DcaConfig, instrument: Instrument, reason: CloseReason, price: Decimal
) -> Decision[DcaState]:
    """The deal is closed: recorded, its remaining orders cancelled, and the next one opened
    at once when the start condition allows it."""
    long = config.direction is Direction.LONG
    profit = state.exit_value - state.entry_value if long else state.entry_value - state.exit_value
    record = DealRecord(
        number=state.deal,
        opened_at=state.opened_at,
        closed_at=_now(),
        reason=reason,
        safety_orders_used=state.safety_filled,
        average_entry=state.average_entry or Decimal(0),
        quantity=state.entry_quantity,
        entry_value=state.entry_value,
        exit_value=state.exit_value,
        profit=profit,
    )
    cancel = tuple(o.key for o in state.orders if not o.complete)
    closed = replace(
        state,
        phase=Phase.WAITING,
        orders=(),
        carry=state.position,
        entry_quantity=Decimal(0),
        entry_value=Decimal(0),
        exit_quantity=Decimal(0),
        exit_value=Decimal(0),
        trailing_peak=None,
        breakeven_armed=False,
        last_closed_at=record.closed_at,
        last_close_price=price,
        deals_closed=state.deals_closed + 1,
        total_profit=state.total_profit + profit,
        history=(*state.history, record)[-HISTORY:],
    )
    if _may_open(closed, config, price):
        following = open_deal(closed, config, instrument, price)
        return Decision(following.state, following.place, cancel)
    return Decision(closed, (), cancel)


def _may_open(state: DcaState, config: DcaConfig, price: Decimal) -> bool:
    if config.max_deals is not None and state.deal >= config.max_deals:
        return False
    if config.start_condition is StartCondition.COOLDOWN:
        if state.last_closed_at is None:
            return True
        waited = CLOCK.get()() - datetime.fromisoformat(state.last_closed_at)
        return waited.total_seconds() >= (config.cooldown or 0)
    if config.start_condition is StartCondition.PRICE:
        assert config.start_price is not None
        reference = state.last_close_price if state.last_close_price is not None else price
        return crossed(config.start_price, reference, price)
    return True


def crossed(level: Decimal, reference: Decimal, price: Decimal) -> bool:
    """A level above the reference waits for a rise to it; one below, for a fall."""
    return price >= level if level >= reference else price <= level


def apply_fills(
    state: DcaState, fills: Sequence[StrategyFill], instrument: Instrument, config: DcaConfig
) -> Decision[DcaState]:
    place: list[OrderIntent] = []
    cancel: list[OrderKey] = []
    for fill in fills:
        decision = _apply_fill(state, fill, instrument, config)
        state = decision.state
        withdrawn = set(decision.cancel)
        place = [i for i in place if i.key not in withdrawn]
        place.extend(decision.place)
        cancel.extend(decision.cancel)
    return Decision(state, tuple(place), tuple(cancel))


def _apply_fill(
    state: DcaState, fill: StrategyFill, instrument: Instrument, config: DcaConfig
) -> Decision[DcaState]:
    state = _book(state, config, instrument, fill)
    state, order = _with_fill(state, fill)
    if order is None or state.phase is Phase.WAITING:
        return Decision(state)
    if fill.side is _exit_side(config):
        if not order.complete:
            return Decision(state)
        reason = _close_reason(state, config, order)
        return _close_deal(state, config, instrument, reason, order.filled_value / order.filled)
    if order.slot == 0:
        if not order.complete:
            return Decision(state)
        return _base_order_filled(state, config, instrument, order)
    return _safety_filled(state, config, instrument, order)


def _close_reason(state: DcaState, config: DcaConfig, order: LiveOrder) -> CloseReason:
    if order.slot == config.tp_slot:
        return CloseReason.TRAILING if order.order_type is OrderType.MARKET else CloseReason.TAKE_PROFIT
    return CloseReason.BREAKEVEN if state.breakeven_armed else CloseReason.STOP_LOSS


def _base_order_filled(
    state: DcaState, config: DcaConfig, instrument: Instrument, order: LiveOrder
) -> Decision[DcaState]:
    state = replace(
        state,
        phase=Phase.OPEN,
        reference_price=order.filled_value / order.filled,
        orders=tuple(o for o in state.orders if o.slot != 0),
    )
    state, safety = _place_safety_orders(state, config, instrument)
    state, tp, cancel = _replace_take_profit(state, config, instrument)
    return Decision(state, (*safety, *tp), cancel)


def _safety_filled(
    state: DcaState, config: DcaConfig, instrument: Instrument, order: LiveOrder
) -> Decision[DcaState]:
    """Every fill moves the average: the take-profit follows; a complete one is refilled."""
    safety: tuple[OrderIntent, ...] = ()
    if order.complete:
        state = replace(
            state,
            safety_filled=state.safety_filled + 1,
            orders=tuple(o for o in state.orders if o.key != order.key),
        )
        state, safety = _place_safety_orders(state, config, instrument)
    state, tp, cancel = _replace_take_profit(state, config, instrument)
    return Decision(state, (*safety, *tp), cancel)


def on_price(
    state: DcaState, price: Decimal, instrument: Instrument, config: DcaConfig
) -> Decision[DcaState] | None:
    """Between deals: open the next when its condition holds. In a deal: the stop loss, the
    breakeven stop and the trailing take-profit."""
    if state.phase is Phase.WAITING:
        return open_deal(state, config, instrument, price) if _may_open(state, config, price) else None
    if state.phase is not Phase.OPEN or state.average_entry is None:
        return None
    average = state.average_entry
    if _stop_hit(state, config, price, average):
        return _close_at_market(state, config, instrument, price, config.sl_slot)
    if _arms_breakeven(state, config, price, average):
        return Decision(replace(state, breakeven_armed=True))
    if config.trailing_deviation is not None:
        return _trail(state, config, instrument, price, average)
    return None


def stop_price(state: DcaState, config: DcaConfig) -> Decimal | None:
    average = state.average_entry
    if average is None:
        return None
    if state.breakeven_armed:
        return average
    if config.stop_loss is None:
        return None
    sl = fraction(config.stop_loss)
    return average * (1 + sl) if config.direction is Direction.SHORT else average * (1 - sl)


def _beyond(config: DcaConfig, price: Decimal, level: Decimal) -> bool:
    """Whether `price` is at or past `level` against the deal (below it long, above it short)."""
    return price >= level if config.direction is Direction.SHORT else price <= level


def _stop_hit(state: DcaState, config: DcaConfig, price: Decimal, average: Decimal) -> bool:
    stop = stop_price(state, config)
    return stop is not None and _beyond(config, price, stop)


def _arms_breakeven(state: DcaState, config: DcaConfig, price: Decimal, average: Decimal) -> bool:
    """After safety order k, once the price is back past the average entry, the stop moves there:
    the deal can then no longer close at a loss. Armed at once it would close at once."""
    k = config.breakeven_after
    return (
        k is not None
        and not state.breakeven_armed
        and state.safety_filled >= k
        and not _beyond(config, price, average)
        and price != average
    )


def _trail(
    state: DcaState, config: DcaConfig, instrument: Instrument, price: Decimal, average: Decimal
) -> Decision[DcaState] | None:
    assert config.trailing_deviation is not None
    short = config.direction is Direction.SHORT
    target = take_profit_price(config, average, state.entry_value)
    peak = state.trailing_peak
    if peak is None:
        reached = price <= target if short else price >= target
        return Decision(replace(state, trailing_peak=price)) if reached else None
    if (price < peak) if short else (price > peak):
        return Decision(replace(state, trailing_peak=price))
    td = fraction(config.trailing_deviation)
    reversed_ = price >= peak * (1 + td) if short else price <= peak * (1 - td)
    if reversed_:
        return _close_at_market(state, config, instrument, price, config.tp_slot)
    return None


def _close_at_market(
    state: DcaState, config: DcaConfig, instrument: Instrument, price: Decimal, slot: int
) -> Decision[DcaState]:
    """Cancel everything the deal has resting and close what it holds at market."""
    cancel = tuple(o.key for o in state.orders)
    quantity = _close_quantity(state, config, instrument)
    close = LiveOrder(slot, state.seq, _exit_side(config), price, quantity, OrderType.MARKET)
    closing = replace(state, phase=Phase.CLOSING, orders=(close,), seq=state.seq + 1)
    return Decision(closing, (close.intent(),), cancel)


# JSON ---------------------------------------------------------------------------------------

_CONFIG_DECIMALS = (
    "base_order_size",
    "safety_order_size",
    "price_deviation",
    "take_profit",
    "step_scale",
    "volume_scale",
    "trailing_deviation",
    "stop_loss",
    "start_price",
)
_CONFIG_INTS = ("max_safety_orders", "max_active_safety_orders", "breakeven_after", "cooldown", "max_deals")


def config_to_json(config: DcaConfig) -> Json:
    """Decimals as strings, enums as their values; `investment` (the most one deal spends) is
    written for readers of the row that know no strategy (the risk rules) and ignored on read."""
    data: Json = {
        key: (str(value) if isinstance(value, Decimal) else value) for key, value in asdict(config).items()
    }
    data["investment"] = str(max_funds(config))
    return data


def config_from_json(data: Json) -> DcaConfig:
    known = set(DcaConfig.__dataclass_fields__)
    values = {key: value for key, value in data.items() if key in known}
    for key in _CONFIG_DECIMALS:
        if key in values:
            value = values[key]
            values[key] = None if value is None or value == "" else Decimal(str(value))
    for key in _CONFIG_INTS:
        if key in values:
            value = values[key]
            values[key] = None if value is None or value == "" else int(value)
    values["direction"] = Direction(values.get("direction", Direction.LONG))
    values["take_profit_on"] = TakeProfitOn(values.get("take_profit_on", TakeProfitOn.TOTAL))
    values["start_condition"] = StartCondition(values.get("start_condition", StartCondition.IMMEDIATELY))
    values["base_order_type"] = BaseOrderType(values.get("base_order_type", BaseOrderType.MARKET))
    return DcaConfig(**values)


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _undec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(value)


def _order_to_json(order: LiveOrder) -> Json:
    return {
        "slot": order.slot,
        "cycle": order.cycle,
        "side": order.side.value,
        "price": str(order.price),
        "quantity": str(order.quantity),
        "order_type": order.order_type.value,
        "filled": str(order.filled),
        "filled_value": str(order.filled_value),
    }


def _order_from_json(data: Json) -> LiveOrder:
    return LiveOrder(
        slot=data["slot"],
        cycle=data["cycle"],
        side=Side(data["side"]),
        price=Decimal(data["price"]),
        quantity=Decimal(data["quantity"]),
        order_type=OrderType(data["order_type"]),
        filled=Decimal(data["filled"]),
        filled_value=Decimal(data["filled_value"]),
    )


def _deal_to_json(deal: DealRecord) -> Json:
    return {
        key: (str(value) if isinstance(value, Decimal) else value) for key, value in asdict(deal).items()
    } | {"reason": deal.reason.value}


def _deal_from_json(data: Json) -> DealRecord:
    return DealRecord(
        number=data["number"],
        opened_at=data["opened_at"],
        closed_at=data["closed_at"],
        reason=CloseReason(data["reason"]),
        safety_orders_used=data["safety_orders_used"],
        average_entry=Decimal(data["average_entry"]),
        quantity=Decimal(data["quantity"]),
        entry_value=Decimal(data["entry_value"]),
        exit_value=Decimal(data["exit_value"]),
        profit=Decimal(data["profit"]),
    )


_STATE_DECIMALS = (
    "entry_quantity",
    "entry_value",
    "exit_quantity",
    "exit_value",
    "carry",
    "committed_base",
    "total_profit",
)
_STATE_OPTIONAL_DECIMALS = ("reference_price", "trailing_peak", "last_close_price")
_STATE_PLAIN = (
    "deal",
    "seq",
    "deal_start_cycle",
    "safety_filled",
    "safety_placed",
    "breakeven_armed",
    "opened_at",
    "last_closed_at",
    "deals_closed",
)


def state_to_json(state: DcaState) -> Json:
    data: Json = {"phase": state.phase.value}
    data.update({key: str(getattr(state, key)) for key in _STATE_DECIMALS})
    data.update({key: _dec(getattr(state, key)) for key in _STATE_OPTIONAL_DECIMALS})
    data.update({key: getattr(state, key) for key in _STATE_PLAIN})
    data["orders"] = [_order_to_json(o) for o in state.orders]
    data["history"] = [_deal_to_json(d) for d in state.history]
    return data


def state_from_json(data: Json) -> DcaState:
    values: dict[str, Any] = {key: data[key] for key in _STATE_PLAIN}
    values.update({key: Decimal(data[key]) for key in _STATE_DECIMALS})
    values.update({key: _undec(data[key]) for key in _STATE_OPTIONAL_DECIMALS})
    return DcaState(
        phase=Phase(data["phase"]),
        orders=tuple(_order_from_json(o) for o in data["orders"]),
        history=tuple(_deal_from_json(d) for d in data["history"]),
        **values,
    )


# The protocol --------------------------------------------------------------------------------


def funds_needed(config: DcaConfig, instrument: Instrument, price: Decimal) -> dict[str, Decimal]:
    """Long: the quote of one whole deal (a market base order with room for slippage).
    Short: the base one whole deal sells, at the safety orders' prices, and the quote its stop
    would need to buy it all back (`stop_quote_needed`)."""
    if config.direction is Direction.SHORT:
        needed = {instrument.base: short_base_needed(config, instrument, price)}
        stop = stop_quote_needed(config, instrument)
        return needed | {instrument.quote: stop} if stop else needed
    bo = config.base_order_size * (1 + _base_order_allowance(config))
    return {instrument.quote: bo + all_safety_sizes(config)}


def stop_quote_needed(config: DcaConfig, instrument: Instrument) -> Decimal:
    """A short deal's stop (or breakeven stop) buys the base back at market above what it was
    sold for: the quote beyond the sales' proceeds, for a whole deal stopped at its average
    entry plus the stop, with the start's slippage allowance and the taker fee both ways."""
    if config.direction is not Direction.SHORT or (
        config.stop_loss is None and config.breakeven_after is None
    ):
        return Decimal(0)
    sold = max_funds(config)
    fee = instrument.taker_fee
    stop = 1 + fraction(config.stop_loss or Decimal(0))
    cost = sold * stop * (1 + START_SLIPPAGE_ALLOWANCE) / (1 - fee)
    return max(Decimal(0), cost - sold * (1 - fee)).quantize(Decimal("0.01"), rounding=ROUND_UP)


def market_buy_cost(instrument: Instrument, quantity: Decimal, price: Decimal) -> Decimal:
    """The quote a market buy of `quantity` seen at `price` may take, with the slippage allowance."""
    return (quantity * price * (1 + START_SLIPPAGE_ALLOWANCE)).quantize(Decimal("0.01"), rounding=ROUND_UP)


def short_base_needed(config: DcaConfig, instrument: Instrument, price: Decimal) -> Decimal:
    total = config.base_order_size * (1 + _base_order_allowance(config)) / price
    for n in range(1, config.max_safety_orders + 1):
        total += safety_size(config, n) / safety_price(config, instrument, price, n)
    return instrument.round_quantity(total, ROUND_UP)


def initial_state(
    config: DcaConfig, instrument: Instrument, price: Decimal
) -> tuple[DcaState, tuple[OrderIntent, ...]]:
    """The start condition was met (start_wait): the first deal opens at once."""
    committed = (
        short_base_needed(config, instrument, price) if config.direction is Direction.SHORT else Decimal(0)
    )
    decision = open_deal(
        DcaState(Phase.WAITING, deal=0, seq=0, committed_base=committed), config, instrument, price
    )
    return decision.state, decision.place


def funds_to_place(
    state: DcaState, key: OrderKey, config: DcaConfig, instrument: Instrument
) -> dict[str, Decimal]:
    """Before a deal's base order: the whole deal, as at the bot's start (quote long, base short),
    priced where the deal opens. A later deal is not covered by the start's check: a long bot
    that lost on its stops, or a short bot at lower prices (each deal sells more base for the
    same quote), may no longer afford one. Before a short's market close: the quote to buy
    the base back. Safety orders and take-profits are the deal's own funds."""
    order = next((o for o in state.orders if o.key == key), None)
    if order is None:
        return {}
    if order.slot == 0:
        return funds_needed(config, instrument, order.price)
    if order.order_type is OrderType.MARKET and order.side is Side.BUY:
        return {instrument.quote: market_buy_cost(instrument, order.quantity, order.price)}
    return {}


def on_refused(
    state: DcaState, key: OrderKey, reason: str, config: DcaConfig, instrument: Instrument
) -> Decision[DcaState] | None:
    """An order that will never trade. The base order: the deal never began, so it is
    withdrawn and not counted, and the bot stops, since neither a shortfall nor a venue minimum
    mends by itself (a bot that waited would open a deal the moment funds arrived for something
    else). A safety order: the deal goes on without it. The take-profit or a market close: the
    deal could not end by itself, so the bot stops with the deal open and says so."""
    order = next((o for o in state.orders if o.key == key), None)
    if order is None:
        return None
    remaining = tuple(o for o in state.orders if o.key != key)
    what = _order_words(order, instrument)
    if order.slot == 0 and order.filled:
        # Refused after part of it traded (a venue's late rejection): the deal holds that base.
        return Decision(
            replace(state, orders=remaining),
            halt=f"Deal {state.deal}'s base order ({what}) was refused after {plain(order.filled)} "
            f"{instrument.base} of it filled: {reason}",
        )
    if order.slot == 0:
        withdrawn = replace(state, phase=Phase.WAITING, deal=state.deal - 1, orders=remaining, opened_at=None)
        return Decision(
            withdrawn, halt=f"Deal {state.deal} did not open: its base order ({what}) was refused. {reason}"
        )
    if 1 <= order.slot <= config.max_safety_orders:
        return Decision(replace(state, orders=remaining))
    if order.order_type is OrderType.MARKET:
        reopened = replace(state, phase=Phase.OPEN, orders=remaining)
        return Decision(
            reopened,
            halt=f"Deal {state.deal} could not close at market ({what}): {reason} The deal is still "
            f"open and nothing rests for it.",
        )
    return Decision(
        replace(state, orders=remaining),
        halt=f"Deal {state.deal}'s take profit ({what}) was refused: {reason} The deal is still open "
        "without a take profit.",
    )


def _order_words(order: LiveOrder, instrument: Instrument) -> str:
    """The order as a trader reads it: "buy 0.00185 BTC, about 100.00 USDT"."""
    value = _money(order.quantity * order.price)
    return f"{order.side.value} {plain(order.quantity)} {instrument.base}, about {value} {instrument.quote}"


def open_orders(state: DcaState) -> frozenset[OrderKey]:
    return frozenset(o.key for o in state.orders if not o.complete)


# Milestones: what webhooks and notifications announce ----------------------------------------

DEAL_OPENED = "deal.opened"
DEAL_CLOSED = "deal.closed"


def milestones(config: DcaConfig, before: DcaState, after: DcaState) -> tuple[Milestone, ...]:
    """A deal opens when its base order has filled (it then has an entry to average), and
    closes with its record. Several can pass in one change: a deal that opened and closed
    between two saved states is announced opened, then closed."""
    closed = after.history[len(after.history) - (after.deals_closed - before.deals_closed) :]
    closed = closed if after.deals_closed > before.deals_closed else ()
    events: list[Milestone] = []
    for record in closed:
        if _opened_since(before, record.number):
            events.append(Milestone(DEAL_OPENED, _record_opened(config, record)))
        events.append(Milestone(DEAL_CLOSED, _record_closed(config, record)))
    if after.phase in (Phase.OPEN, Phase.CLOSING) and _opened_since(before, after.deal):
        events.append(Milestone(DEAL_OPENED, _deal_opened(config, after)))
    return tuple(events)


def _opened_since(before: DcaState, number: int) -> bool:
    """Whether deal `number` had not yet opened (its base order unfilled) in `before`."""
    if number != before.deal:
        return number > before.deal
    return before.phase in (Phase.WAITING, Phase.OPENING)


def _deal_opened(config: DcaConfig, state: DcaState) -> Json:
    take_profit = state.order(config.tp_slot)
    return {
        "number": state.deal,
        "direction": config.direction.value,
        "opened_at": state.opened_at,
        "base_order_price": _dec(state.reference_price),
        "quantity": str(state.entry_quantity),
        "entry_value": str(state.entry_value),
        "average_entry": _dec(state.average_entry),
        "take_profit_price": _dec(take_profit.price) if take_profit else None,
        "max_safety_orders": config.max_safety_orders,
    }


def _record_opened(config: DcaConfig, record: DealRecord) -> Json:
    return {
        "number": record.number,
        "direction": config.direction.value,
        "opened_at": record.opened_at,
        "base_order_price": None,  # the deal closed before it was announced: its record has the average
        "quantity": str(record.quantity),
        "entry_value": str(record.entry_value),
        "average_entry": str(record.average_entry),
        "take_profit_price": None,
        "max_safety_orders": config.max_safety_orders,
    }


def _record_closed(config: DcaConfig, record: DealRecord) -> Json:
    duration = None
    if record.opened_at and record.closed_at:
        elapsed = datetime.fromisoformat(record.closed_at) - datetime.fromisoformat(record.opened_at)
        duration = int(elapsed.total_seconds())
    return {
        **_deal_to_json(record),
        "direction": config.direction.value,
        "duration_seconds": duration,
        "max_safety_orders": config.max_safety_orders,
    }


class DcaStrategy:
    """The DCA bot behind the Strategy protocol (bots/strategies/base.py)."""

    name = "dca"
    label = "DCA"
    replans = True  # it cancels take-profits it re-places, and reads the price every tick
    checks_funds = True  # each deal's funds, before its base order

    def config_from_json(self, data: Json) -> DcaConfig:
        return config_from_json(data)

    def config_to_json(self, config: DcaConfig) -> Json:
        return config_to_json(config)

    def investment(self, config: DcaConfig) -> Decimal:
        return max_funds(config)

    def validate(self, config: DcaConfig, instrument: Instrument, price: Decimal, venue: str) -> None:
        validate(config, instrument, price, venue)

    def funds_needed(self, config: DcaConfig, instrument: Instrument, price: Decimal) -> dict[str, Decimal]:
        return funds_needed(config, instrument, price)

    def preview(self, config: DcaConfig, instrument: Instrument, price: Decimal) -> DcaPreview:
        return preview(config, instrument, price)

    def state_to_json(self, state: DcaState) -> Json:
        return state_to_json(state)

    def state_from_json(self, data: Json) -> DcaState:
        return state_from_json(data)

    def start_wait(self, config: DcaConfig, price: Decimal, price_when_created: Decimal) -> str | None:
        if config.start_condition is not StartCondition.PRICE or config.start_price is None:
            return None
        if crossed(config.start_price, price_when_created, price):
            return None
        return f"Waiting for the price to reach {plain(config.start_price)} to open the first deal."

    def start_trade(self, config: DcaConfig, instrument: Instrument, price: Decimal) -> StartTrade:
        """Nothing at the start: the base order is the deal's own (slot 0). A short deal's base
        comes from the account, committed to the books at today's price."""
        if config.direction is Direction.SHORT:
            return StartTrade(
                Side.SELL, Decimal(0), committed_base=short_base_needed(config, instrument, price)
            )
        return StartTrade(Side.BUY, Decimal(0))

    def initial_state(
        self, config: DcaConfig, instrument: Instrument, price: Decimal
    ) -> tuple[DcaState, tuple[OrderIntent, ...]]:
        return initial_state(config, instrument, price)

    def opening_allocations(self, state: DcaState) -> tuple[tuple[str, Decimal], ...]:
        return ((LOT, state.committed_base),) if state.committed_base else ()

    def apply_fills(
        self,
        state: DcaState,
        fills: Sequence[StrategyFill],
        instrument: Instrument,
        config: DcaConfig,
        *,
        base_available: Decimal,
    ) -> Decision[DcaState]:
        return apply_fills(state, fills, instrument, config)

    def funds_to_place(
        self, state: DcaState, key: OrderKey, config: DcaConfig, instrument: Instrument
    ) -> dict[str, Decimal]:
        return funds_to_place(state, key, config, instrument)

    def on_refused(
        self, state: DcaState, key: OrderKey, reason: str, config: DcaConfig, instrument: Instrument
    ) -> Decision[DcaState] | None:
        return on_refused(state, key, reason, config, instrument)

    def open_orders(self, state: DcaState) -> frozenset[OrderKey] | None:
        return open_orders(state)

    def watches_price(self, config: DcaConfig) -> bool:
        return True  # stop loss, trailing take-profit and the next deal's start all read it

    def on_price(
        self, state: DcaState, price: Decimal, instrument: Instrument, config: DcaConfig
    ) -> Decision[DcaState] | None:
        return on_price(state, price, instrument, config)

    def exit_reason(self, config: DcaConfig, price: Decimal, equity: Decimal | None) -> ExitReason | None:
        return None  # deals close through their own orders; the bot runs on

    def exit_action(self, config: DcaConfig, reason: ExitReason) -> ExitAction:
        return ExitAction.SELL_BASE

    def ledger_lot(self, slot: int) -> str:
        return LOT

    def leverage(self, config: DcaConfig) -> None:
        return None  # spot

    def closes_trip(self, config: DcaConfig, side: Side, complete: bool) -> bool:
        return complete and side is _exit_side(config)

    def milestones(self, config: DcaConfig, before: DcaState, after: DcaState) -> tuple[Milestone, ...]:
        return milestones(config, before, after)


DCA = DcaStrategy()
__all__ = ["CLOCK", "DCA", "clock_at"]  # the clock is re-exported: tests and callers set it here
