"""A simulated spot venue for backtests: resting limit orders, balances and fills over candles.

The intra-candle path
    A candle is walked as four points: open -> the nearer of high or low -> the other -> close.
    When high and low are equally far from the open, the low comes first (a fall before a rise
    fills buys before their counter-sells could, the cautious reading for a long grid).

Fill rules
    - A resting limit order fills when the path touches or crosses its price, at its own
      price, in full, as maker. Partial fills: none (volume is not modelled).
    - A resting order the open has already passed (a gap) fills at the open point, still at
      its own price.
    - Along one leg of the path, orders fill in the order the price meets them (a falling leg
      fills the highest buy first); orders at one price fill oldest first.
    - An order placed during a candle (a counter-order after a fill) rests from the price of
      the fill that caused it: it can fill only further along that candle's path, never at a
      price the path has already passed.
    - Limit orders are post-only, as the live engine sends grid orders: a buy at or above the
      current path price, or a sell at or below it, is refused instead of taking.
    - Market orders fill at the reference price (the candle's open) moved against the trader
      by the configured slippage and rounded to the tick (buys up, sells down), as taker.
    - Fees are taken in the asset received, as on Bybit and the paper exchange: base on buys,
      quote on sells. Prices and quantities are checked against the instrument's tick, lot
      step and minimums before an order is accepted; funds are reserved while it rests.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from exchanges.base import (
    Candle,
    Instrument,
    InsufficientBalance,
    InvalidOrder,
    InvalidOrderReason,
    Side,
)

ZERO = Decimal(0)
NO_BUY = Decimal("-Infinity")
NO_SELL = Decimal("Infinity")


@dataclass(frozen=True)
class Fees:
    """Fractions of the traded value: 0.001 is 0.1%."""

    maker: Decimal
    taker: Decimal

    @classmethod
    def of(cls, instrument: Instrument) -> Fees:
        return cls(instrument.maker_fee, instrument.taker_fee)


@dataclass(frozen=True)
class SimOrder:
    id: int
    side: Side
    price: Decimal
    quantity: Decimal
    interval: int | None = None  # the grid interval and cycle the order belongs to
    cycle: int = 0


@dataclass(frozen=True)
class SimFill:
    time: datetime  # the open time of the candle it happened in
    leg: int  # where on the path: 0 the open, 1 the first extreme, 2 the second, 3 the close
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    is_maker: bool
    interval: int | None = None
    cycle: int = 0


def candle_path(candle: Candle) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """open -> the nearer of high or low (low on a tie) -> the other -> close."""
    open_, high, low = candle.open, candle.high, candle.low
    if high - open_ < open_ - low:
        return open_, high, low, candle.close
    return open_, low, high, candle.close


def check_candle(candle: Candle) -> None:
    if not (candle.low <= min(candle.open, candle.close) and candle.high >= max(candle.open, candle.close)):
        raise ValueError(
            f"The candle at {candle.open_time.isoformat()} is not a candle: open {candle.open}, "
            f"high {candle.high}, low {candle.low}, close {candle.close}."
        )


def _buy_key(order: SimOrder) -> tuple[Decimal, int]:
    return order.price, -order.id  # the last is the highest buy, oldest first


def _sell_key(order: SimOrder) -> tuple[Decimal, int]:
    return -order.price, -order.id  # the last is the lowest sell, oldest first


FillHandler = Callable[[SimFill], None]
# Told each point of the path once its fills are done, (leg, price); True stops the walk there.
PointHandler = Callable[[int, Decimal], bool]


class SimVenue:
    """One account on one instrument. `price` is where the path is now."""

    def __init__(self, instrument: Instrument, fees: Fees, *, base: Decimal, quote: Decimal) -> None:
        self.instrument = instrument
        self.fees = fees
        self.base = base  # totals, free plus reserved
        self.quote = quote
        self.base_locked = ZERO
        self.quote_locked = ZERO
        self.price = ZERO
        self.time: datetime | None = None
        self.leg = 0
        self._buys: list[SimOrder] = []  # ascending by _buy_key
        self._sells: list[SimOrder] = []  # ascending by _sell_key
        self._next_id = 1

    # Reading -----------------------------------------------------------------

    @property
    def free_base(self) -> Decimal:
        return self.base - self.base_locked

    @property
    def free_quote(self) -> Decimal:
        return self.quote - self.quote_locked

    @property
    def open_orders(self) -> tuple[SimOrder, ...]:
        return (*reversed(self._buys), *reversed(self._sells))

    def equity(self, mark: Decimal) -> Decimal:
        return self.quote + self.base * mark

    def best_buy(self) -> Decimal:
        return self._buys[-1].price if self._buys else NO_BUY

    def best_sell(self) -> Decimal:
        return self._sells[-1].price if self._sells else NO_SELL

    # Orders ------------------------------------------------------------------

    def place_limit(
        self, side: Side, price: Decimal, quantity: Decimal, *, interval: int | None = None, cycle: int = 0
    ) -> SimOrder:
        """Rest a post-only limit order, reserving its funds; raise InvalidOrder or InsufficientBalance."""
        self.instrument.check_order(quantity, price)
        if (side is Side.BUY and price >= self.price) or (side is Side.SELL and price <= self.price):
            raise InvalidOrder(
                f"A post-only {side} at {price} would trade at once with the price at {self.price}.",
                reason=InvalidOrderReason.POST_ONLY_WOULD_TAKE,
            )
        order = SimOrder(self._next_id, side, price, quantity, interval, cycle)
        if side is Side.BUY:
            self._reserve_quote(quantity * price)
            bisect.insort(self._buys, order, key=_buy_key)
        else:
            self._reserve_base(quantity)
            bisect.insort(self._sells, order, key=_sell_key)
        self._next_id += 1
        return order

    def market(self, side: Side, quantity: Decimal, reference: Decimal, slippage: Decimal) -> SimFill:
        """Fill at once at `reference` moved by `slippage` against the trader, as taker."""
        if side is Side.BUY:
            price = self.instrument.round_price(reference * (1 + slippage), ROUND_UP)
        else:
            price = self.instrument.round_price(reference * (1 - slippage), ROUND_DOWN)
        self.instrument.check_order(quantity, price)
        if side is Side.BUY:
            self._need(self.free_quote, quantity * price, self.instrument.quote)
        else:
            self._need(self.free_base, quantity, self.instrument.base)
        return self._settle(side, price, quantity, self.fees.taker, is_maker=False)

    def cancel(self, interval: int, cycle: int) -> bool:
        """Take the resting order of this interval and cycle off the book, freeing its funds."""
        for book in (self._buys, self._sells):
            for order in book:
                if (order.interval, order.cycle) == (interval, cycle):
                    book.remove(order)
                    if order.side is Side.BUY:
                        self.quote_locked -= order.quantity * order.price
                    else:
                        self.base_locked -= order.quantity
                    return True
        return False

    def cancel_all(self) -> None:
        self._buys.clear()
        self._sells.clear()
        self.base_locked = self.quote_locked = ZERO

    def _reserve_quote(self, amount: Decimal) -> None:
        self._need(self.free_quote, amount, self.instrument.quote)
        self.quote_locked += amount

    def _reserve_base(self, amount: Decimal) -> None:
        self._need(self.free_base, amount, self.instrument.base)
        self.base_locked += amount

    @staticmethod
    def _need(free: Decimal, amount: Decimal, asset: str) -> None:
        if free < amount:
            raise InsufficientBalance(
                f"Needs {amount.normalize():f} {asset} but only {free.normalize():f} is available."
            )

    # Matching ----------------------------------------------------------------

    def begin(self, candle: Candle) -> None:
        """Stand at the candle's open without matching anything (before the first decision)."""
        self.time, self.leg, self.price = candle.open_time, 0, candle.open

    def walk(self, candle: Candle, on_fill: FillHandler, on_point: PointHandler | None = None) -> bool:
        """Move along the candle's path, filling what it meets; `on_fill` may place orders,
        which rest from the filled price on. Ends standing at the close, or where `on_point`
        (asked at each of the four points) stopped it; returns whether it stopped early."""
        self.time = candle.open_time
        buys, sells = self._buys, self._sells
        if (
            on_point is None
            and (not buys or candle.low > buys[-1].price)
            and (not sells or candle.high < sells[-1].price)
        ):
            self.leg, self.price = 3, candle.close  # nothing on the book is in reach: the common case
            return False
        for leg, target in enumerate(candle_path(candle)):
            self.leg = leg
            if leg == 0:
                self.price = target
            # At the open both sides are checked: a gap may have passed orders on either side.
            if leg == 0 or target < self.price:
                while buys and buys[-1].price >= target:
                    self._fill_resting(buys.pop(), on_fill)
            if leg == 0 or target > self.price:
                while sells and sells[-1].price <= target:
                    self._fill_resting(sells.pop(), on_fill)
            self.price = target
            if on_point is not None and on_point(leg, target):
                return True
        return False

    def _fill_resting(self, order: SimOrder, on_fill: FillHandler) -> None:
        if order.side is Side.BUY:
            self.quote_locked -= order.quantity * order.price
        else:
            self.base_locked -= order.quantity
        self.price = order.price
        fill = self._settle(
            order.side, order.price, order.quantity, self.fees.maker, is_maker=True, order=order
        )
        on_fill(fill)

    def _settle(
        self,
        side: Side,
        price: Decimal,
        quantity: Decimal,
        rate: Decimal,
        *,
        is_maker: bool,
        order: SimOrder | None = None,
    ) -> SimFill:
        if side is Side.BUY:
            fee, fee_asset = quantity * rate, self.instrument.base
            self.quote -= quantity * price
            self.base += quantity - fee
        else:
            fee, fee_asset = quantity * price * rate, self.instrument.quote
            self.base -= quantity
            self.quote += quantity * price - fee
        assert self.time is not None, "begin() or walk() a candle before trading"
        return SimFill(
            time=self.time,
            leg=self.leg,
            side=side,
            price=price,
            quantity=quantity,
            fee=fee,
            fee_asset=fee_asset,
            is_maker=is_maker,
            interval=order.interval if order else None,
            cycle=order.cycle if order else 0,
        )


def check_candles(candles: Sequence[Candle]) -> None:
    for candle in candles:
        check_candle(candle)
