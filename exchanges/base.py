"""The one exchange interface: value types, errors, and the `Exchange` contract.

Every venue adapter (Bybit through pybit, the paper engine) implements
`Exchange` and speaks only these types. Money is `Decimal` throughout;
rounding always names its direction.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from exchanges.perpetuals.margin import RiskTier

CLIENT_ORDER_ID_MAX = 36
KLINES_MAX = 1000  # the most candles one kline request may ask for, as on Bybit
# The candle intervals every venue serves, by the names the interface uses.
CANDLE_INTERVALS: dict[str, timedelta] = {
    "1m": timedelta(minutes=1),
    "5m": timedelta(minutes=5),
    "15m": timedelta(minutes=15),
    "1h": timedelta(hours=1),
    "4h": timedelta(hours=4),
    "1d": timedelta(days=1),
}
_CLIENT_ORDER_ID = re.compile(r"^[A-Za-z0-9_-]{1,36}$")


class Side(StrEnum):
    BUY = "buy"
    SELL = "sell"

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    LIMIT = "limit"
    MARKET = "market"


class TimeInForce(StrEnum):
    GTC = "gtc"
    IOC = "ioc"
    FOK = "fok"
    POST_ONLY = "post_only"


class InstrumentKind(StrEnum):
    """Which market an order or a symbol belongs to; Bybit's `category`."""

    SPOT = "spot"
    LINEAR = "linear"  # USDT-margined perpetual


class PositionSide(StrEnum):
    LONG = "long"
    SHORT = "short"


class OrderStatus(StrEnum):
    NEW = "new"
    PARTIALLY_FILLED = "partially_filled"
    FILLED = "filled"
    CANCELLED = "cancelled"  # possibly after a partial fill: see filled_quantity
    REJECTED = "rejected"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


# Errors ----------------------------------------------------------------------


class ExchangeError(Exception):
    """Base of every error an adapter raises. `code` is the venue's own code, if any."""

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.code = code


class AuthError(ExchangeError):
    """The key is unknown, expired, or the signature or timestamp is wrong."""


class PermissionDenied(ExchangeError):
    """The key is valid but may not do this (read-only, IP not whitelisted...)."""


class InsufficientBalance(ExchangeError):
    pass


class NotSupported(ExchangeError):
    """The venue does not offer this (derivatives on a spot-only venue, say)."""


class PositionModeLocked(ExchangeError):
    """The position mode cannot change while the symbol has open orders or a position."""


class LeverageRejected(ExchangeError):
    """The leverage is outside what the symbol's risk limit allows."""


class InvalidOrderReason(StrEnum):
    PRICE_PRECISION = "price_precision"
    QUANTITY_PRECISION = "quantity_precision"
    QUANTITY_TOO_SMALL = "quantity_too_small"
    QUANTITY_TOO_LARGE = "quantity_too_large"
    AMOUNT_TOO_SMALL = "amount_too_small"
    AMOUNT_TOO_LARGE = "amount_too_large"
    UNKNOWN_SYMBOL = "unknown_symbol"
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    BAD_PARAMETER = "bad_parameter"
    REDUCE_ONLY = "reduce_only"  # a reduce-only order that would open or grow a position


class InvalidOrder(ExchangeError):
    """The venue refused the order's shape; `reason` says which rule, `message` says it to a human."""

    def __init__(self, message: str, *, reason: InvalidOrderReason, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.reason = reason


class DuplicateClientOrderId(ExchangeError):
    pass


class OrderNotFound(ExchangeError):
    """No such order, or it is already finished, so it cannot be cancelled."""


class RateLimited(ExchangeError):
    def __init__(self, message: str, *, retry_after: float, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.retry_after = retry_after


class ExchangeUnavailable(ExchangeError):
    """The outcome is unknown: timeout, 5xx, network failure. Never blindly retry a placement."""


# Value types ------------------------------------------------------------------


def shown(value: Decimal) -> str:
    """`value` in a message, as trading.numbers.plain writes it (54,000.5; never 54000.500000
    or an exponent). The exchanges sit below trading and cannot import it; a test holds the two
    to the same rule."""
    normalized = value.normalize()
    return "0" if normalized == 0 else f"{normalized:,f}"


def round_to_step(value: Decimal, step: Decimal, rounding: str) -> Decimal:
    """Round `value` to a multiple of `step` in the named direction (ROUND_DOWN, ROUND_UP...)."""
    if step <= 0:
        raise ValueError("step must be positive")
    units = (value / step).to_integral_value(rounding=rounding)
    return (units * step).quantize(step)


def is_multiple_of(value: Decimal, step: Decimal) -> bool:
    return value % step == 0


@dataclass(frozen=True)
class Instrument:
    symbol: str
    base: str
    quote: str
    tick_size: Decimal
    quantity_step: Decimal
    min_quantity: Decimal
    min_amount: Decimal  # minimum order value in quote
    max_quantity: Decimal  # per limit order, in base
    max_amount: Decimal  # per order, in quote
    max_market_quantity: Decimal  # per market order, in base: venues allow less than for limits
    maker_fee: Decimal  # a fraction: 0.001 is 0.1%
    taker_fee: Decimal

    def round_price(self, price: Decimal, rounding: str) -> Decimal:
        return round_to_step(price, self.tick_size, rounding)

    def round_quantity(self, quantity: Decimal, rounding: str = ROUND_DOWN) -> Decimal:
        """Down by default: never round up a quantity the user may not afford."""
        return round_to_step(quantity, self.quantity_step, rounding)

    def check_order(self, quantity: Decimal, price: Decimal, order_type: OrderType = OrderType.LIMIT) -> None:
        """Raise `InvalidOrder` unless (quantity, price) meets every filter.

        `price` is the limit price, or for a market order the reference price.
        """
        if price <= 0 or not is_multiple_of(price, self.tick_size):
            raise InvalidOrder(
                f"Price {shown(price)} must be a positive multiple of the tick size {shown(self.tick_size)}.",
                reason=InvalidOrderReason.PRICE_PRECISION,
            )
        if quantity <= 0 or not is_multiple_of(quantity, self.quantity_step):
            raise InvalidOrder(
                f"Quantity {shown(quantity)} must be a positive multiple of "
                f"{shown(self.quantity_step)} {self.base}.",
                reason=InvalidOrderReason.QUANTITY_PRECISION,
            )
        if quantity < self.min_quantity:
            raise InvalidOrder(
                f"Quantity {shown(quantity)} {self.base} is below the minimum of {shown(self.min_quantity)}.",
                reason=InvalidOrderReason.QUANTITY_TOO_SMALL,
            )
        most = self.max_order_quantity(order_type)
        if quantity > most:
            raise InvalidOrder(
                f"Quantity {shown(quantity)} {self.base} is above the maximum of {shown(most)} "
                f"per {order_type} order.",
                reason=InvalidOrderReason.QUANTITY_TOO_LARGE,
            )
        amount = quantity * price
        if amount < self.min_amount:
            raise InvalidOrder(
                f"Order value {shown(amount)} {self.quote} is below the minimum of {shown(self.min_amount)}.",
                reason=InvalidOrderReason.AMOUNT_TOO_SMALL,
            )
        if amount > self.max_amount:
            raise InvalidOrder(
                f"Order value {shown(amount)} {self.quote} is above the maximum of {shown(self.max_amount)}.",
                reason=InvalidOrderReason.AMOUNT_TOO_LARGE,
            )

    def max_order_quantity(self, order_type: OrderType) -> Decimal:
        return self.max_market_quantity if order_type is OrderType.MARKET else self.max_quantity

    def min_quantity_at(self, price: Decimal) -> Decimal:
        """The smallest valid quantity at `price`, meeting both the quantity and amount minimums."""
        by_amount = round_to_step(self.min_amount / price, self.quantity_step, ROUND_UP)
        return max(self.min_quantity, by_amount)


@dataclass(frozen=True)
class Ticker:
    symbol: str
    last: Decimal
    bid: Decimal
    ask: Decimal
    time: datetime


@dataclass(frozen=True)
class Candle:
    open_time: datetime
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True)
class Balance:
    asset: str
    free: Decimal
    locked: Decimal

    @property
    def total(self) -> Decimal:
        return self.free + self.locked


@dataclass(frozen=True)
class OrderRequest:
    """An order we want. Market quantities are in the base asset, like limit ones."""

    symbol: str
    side: Side
    order_type: OrderType
    quantity: Decimal
    client_order_id: str
    price: Decimal | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    kind: InstrumentKind = InstrumentKind.SPOT
    # Only shrink the position, never open or grow one (perpetuals only).
    reduce_only: bool = False

    def __post_init__(self) -> None:
        if self.reduce_only and self.kind is InstrumentKind.SPOT:
            raise ValueError("A spot order cannot be reduce-only.")
        if not _CLIENT_ORDER_ID.match(self.client_order_id):
            raise ValueError(
                f"client_order_id must be 1-{CLIENT_ORDER_ID_MAX} characters of letters, digits, '-' or '_'."
            )
        if self.order_type is OrderType.LIMIT and self.price is None:
            raise ValueError("A limit order needs a price.")
        if self.order_type is OrderType.MARKET and self.price is not None:
            raise ValueError("A market order takes no price.")


@dataclass(frozen=True)
class OrderState:
    exchange_order_id: str
    client_order_id: str
    symbol: str
    side: Side
    order_type: OrderType
    price: Decimal | None
    quantity: Decimal
    filled_quantity: Decimal
    average_price: Decimal | None
    status: OrderStatus
    created_at: datetime
    updated_at: datetime
    reject_reason: str = ""
    # A post-only order the venue refused (rejected or cancelled it unfilled) because it would
    # have traded at once against the book: a price that moved, not a fault of the order.
    post_only_refused: bool = False
    kind: InstrumentKind = InstrumentKind.SPOT
    reduce_only: bool = False

    @property
    def remaining_quantity(self) -> Decimal:
        return self.quantity - self.filled_quantity


@dataclass(frozen=True)
class Fill:
    trade_id: str  # the venue's execution id: unique per venue
    exchange_order_id: str
    client_order_id: str
    symbol: str
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    time: datetime


@dataclass(frozen=True)
class Position:
    """One symbol's perpetual position in one-way mode, isolated margin. Flat: side None, size 0."""

    symbol: str
    side: PositionSide | None
    size: Decimal  # in the base asset, never negative
    entry_price: Decimal
    mark_price: Decimal
    leverage: Decimal
    liquidation_price: Decimal | None  # None when flat
    bankruptcy_price: Decimal | None
    position_margin: Decimal  # USDT held for the position: initial margin + fee to close + added - funding
    unrealised_pnl: Decimal
    realised_pnl: Decimal  # cumulative: closed PnL less trading fees, plus funding
    # Cumulative funding received (negative: paid); None where the venue folds it into realised PnL
    # without saying how much (Bybit's position list).
    funding: Decimal | None

    @property
    def signed_size(self) -> Decimal:
        return -self.size if self.side is PositionSide.SHORT else self.size

    @property
    def is_flat(self) -> bool:
        return self.size == 0


@dataclass(frozen=True)
class FundingRate:
    """One settled funding interval of a perpetual: `rate` applied at `time`."""

    symbol: str
    rate: Decimal
    time: datetime


@dataclass(frozen=True)
class FundingPayment:
    """What an account's position paid or received at one funding time."""

    payment_id: str  # the venue's id for it: unique per account
    symbol: str
    time: datetime  # the funding time settled
    rate: Decimal
    mark_price: Decimal
    size: Decimal  # the position settled, signed: negative is short
    amount: Decimal  # received; negative: paid


@dataclass(frozen=True)
class KeyPermissions:
    """What an API key may do, as the venue reports it."""

    can_read: bool
    can_trade_spot: bool
    can_withdraw: bool
    read_only: bool
    ip_whitelist: tuple[str, ...]
    expires_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


# The interface -----------------------------------------------------------------


class Exchange(ABC):
    """One account on one venue. Methods raise only `ExchangeError` subclasses."""

    name: str

    @abstractmethod
    def instruments(self) -> list[Instrument]: ...

    @abstractmethod
    def instrument(self, symbol: str) -> Instrument:
        """Raises InvalidOrder(UNKNOWN_SYMBOL) for a symbol the venue does not list."""

    @abstractmethod
    def ticker(self, symbol: str) -> Ticker: ...

    @abstractmethod
    def candles(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
        """Candles whose open time lies in [start, end], oldest first. interval: 1m 5m 15m 1h 4h 1d."""

    def klines(
        self, symbol: str, interval: str, start: datetime, end: datetime, limit: int = KLINES_MAX
    ) -> list[Candle]:
        """One request's worth: the newest `limit` (at most KLINES_MAX) candles whose open time
        lies in [start, end], oldest first. Callers page through longer ranges themselves."""
        if not 1 <= limit <= KLINES_MAX:
            raise ValueError(f"limit must be between 1 and {KLINES_MAX}.")
        return self.candles(symbol, interval, start, end)[-limit:]

    @abstractmethod
    def balances(self) -> dict[str, Balance]: ...

    @abstractmethod
    def place_order(self, request: OrderRequest) -> OrderState:
        """Send once. Raises ExchangeUnavailable when the outcome is unknown."""

    @abstractmethod
    def cancel_order(
        self, symbol: str, *, client_order_id: str, kind: InstrumentKind = InstrumentKind.SPOT
    ) -> None:
        """Raises OrderNotFound when no open order of `kind` has this client id."""

    @abstractmethod
    def cancel_all_orders(self, symbol: str, *, kind: InstrumentKind = InstrumentKind.SPOT) -> list[str]:
        """Cancel every open order of `kind` on `symbol`; return the cancelled client order ids."""

    @abstractmethod
    def open_orders(
        self, symbol: str | None = None, *, kind: InstrumentKind = InstrumentKind.SPOT
    ) -> list[OrderState]:
        """Open orders of `kind` (spot by default: a spot caller never sees perpetual orders)."""

    @abstractmethod
    def order(
        self, symbol: str, client_order_id: str, *, kind: InstrumentKind = InstrumentKind.SPOT
    ) -> OrderState:
        """Find an order of `kind`, open or finished, by our client id. Raises OrderNotFound."""

    @abstractmethod
    def order_history(
        self, symbol: str, limit: int = 50, *, kind: InstrumentKind = InstrumentKind.SPOT
    ) -> list[OrderState]:
        """Finished orders of `kind` (filled, cancelled, rejected), newest first."""

    @abstractmethod
    def fills_since(
        self,
        symbol: str,
        since: datetime | None,
        *,
        client_order_prefix: str | None = None,
        kind: InstrumentKind = InstrumentKind.SPOT,
    ) -> list[Fill]:
        """Fills of `kind`'s orders at or after `since` (all when None), oldest first.

        The boundary is inclusive so none is missed; callers record each fill
        once by its `trade_id`. `client_order_prefix` narrows the answer to the
        fills of orders whose client id starts with it, where the venue can do so
        on its side (many bots share an account); a venue that cannot returns
        every fill, so callers still check each fill's client order id.
        """

    @abstractmethod
    def check_api_key(self) -> KeyPermissions: ...

    # Linear perpetuals. A spot-only venue keeps these defaults, which refuse clearly.

    supports_perpetuals: bool = False

    def _not_supported(self, what: str) -> NotSupported:
        return NotSupported(f"{what} is not supported on this venue ({self.name}): it trades spot only.")

    def perpetual_instrument(self, symbol: str) -> Instrument:
        """A linear perpetual's filters (tick, lot, min value). Raises InvalidOrder(UNKNOWN_SYMBOL)."""
        raise self._not_supported("Perpetual futures")

    def positions(self, symbol: str | None = None) -> list[Position]:
        """Open positions (one per symbol in one-way mode), or `symbol`'s, flat or not."""
        raise self._not_supported("Perpetual positions")

    def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        """Idempotent: setting the leverage already in force succeeds. Raises LeverageRejected."""
        raise self._not_supported("Leverage")

    def set_one_way_mode(self, symbol: str) -> None:
        """Idempotent. Raises PositionModeLocked while the symbol has open orders or a position."""
        raise self._not_supported("Position mode")

    def mark_price(self, symbol: str) -> Decimal:
        raise self._not_supported("Mark price")

    def funding_history(self, symbol: str, since: datetime | None = None) -> list[FundingRate]:
        """Settled funding rates at or after `since`, oldest first."""
        raise self._not_supported("Funding")

    def funding_payments(self, symbol: str, since: datetime | None = None) -> list[FundingPayment]:
        """This account's funding on `symbol` at funding times at or after `since`, oldest first."""
        raise self._not_supported("Funding")

    def risk_tiers(self, symbol: str) -> tuple[RiskTier, ...]:
        """The perpetual's risk-limit tiers (maintenance rate and most leverage by position value),
        lowest first. Raises InvalidOrder(UNKNOWN_SYMBOL)."""
        raise self._not_supported("Risk limits")
