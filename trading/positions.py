"""A futures bot's books: a linear perpetual's position, exact in Decimal. Pure Python: no Django.

The spot ledger's lots, signed: a lot holds a long (base > 0) or a short (base < 0) and its cost,
the USDT paid to open a long or, negative, received for opening a short (each net of its fee). A
fill that meets a lot's opposite side closes it first and realises

    closed x price x direction - fee - the closed share of the cost

and any rest opens the other side. `quote` is the cash the position's trades have moved, as on a
spot venue: so `equity = quote + base x mark`, the same valuation as the spot ledger's, is what a
linear contract is worth at the mark. Fees are paid in USDT and already netted: an opening fee
sits in the lot's cost (in the unrealised PnL until the lot closes), a closing one in the profit
it realises. Funding is cash the position received (negative: paid), outside grid profit:

    grid profit + unrealised PnL + funding == equity - investment

exactly, at any mark. A round trip is a lot that comes back to flat, whichever side it held, so
a neutral grid's trips count as a long or a short grid's do.

A liquidation closes every lot at the venue's bankruptcy price.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from exchanges.base import PositionSide, Side
from trading.ledger import COST_SCALE, Ledger, LedgerError, LedgerFill, LedgerSummary, Lot, _share_of_cost
from trading.numbers import plain


@dataclass
class PositionLedger(Ledger):
    funding: Decimal = Decimal(0)  # net funding received (negative: paid)
    # The latest funding time booked (from the run's start), and the venue's ids booked at it:
    # a payment is booked once, however often the venue lists it.
    funding_cursor: datetime | None = None
    funding_ids: tuple[str, ...] = ()
    funding_checked_at: datetime | None = None  # when the venue was last asked for funding
    # The venue's bankruptcy price of the position when last read: where a liquidation settles it.
    bankruptcy_seen: Decimal | None = None

    # Fills -------------------------------------------------------------------

    def apply(self, fill: LedgerFill) -> None:
        base_fee, quote_fee = self._split_fee(fill)
        if base_fee:
            raise LedgerError(f"A perpetual's fee is paid in {self.quote_asset}, not {fill.fee_asset}.")
        lot = self.lots.setdefault(fill.lot, Lot())
        signed = fill.quantity if fill.side is Side.BUY else -fill.quantity
        was_open = bool(lot.base)
        closing = min(fill.quantity, abs(lot.base)) if lot.base * signed < 0 else Decimal(0)
        closing_fee = _share(quote_fee, closing, fill.quantity)
        if closing:
            self._close(lot, closing, fill.price, closing_fee)
        if fill.quantity > closing:
            direction = Decimal(1) if signed > 0 else Decimal(-1)
            self._open(lot, direction * (fill.quantity - closing), fill.price, quote_fee - closing_fee)
        if fill.side is Side.BUY:
            self.buys += 1
        else:
            self.sells += 1
        if was_open and not lot.base:
            self._complete_round_trip(lot, charge_remaining_cost=True)

    def _close(self, lot: Lot, quantity: Decimal, price: Decimal, fee: Decimal) -> None:
        direction = Decimal(1) if lot.base > 0 else Decimal(-1)
        leaving = direction * quantity
        cost_out = _share_of_cost(lot, leaving)
        cash = leaving * price - fee
        self._realize(lot, cash - cost_out)
        lot.base -= leaving
        lot.cost -= cost_out
        self.quote += cash

    def _open(self, lot: Lot, signed: Decimal, price: Decimal, fee: Decimal) -> None:
        paid = signed * price + fee
        lot.base += signed
        lot.cost += paid
        self.quote -= paid

    def allocate(self, source: str, target: str, base: Decimal) -> None:
        """Move `base` (a size, on the source lot's side) and its share of cost between lots: the
        start's position to the levels that will close it."""
        giving = self.lots.get(source, Lot())
        if giving.base >= 0:
            super().allocate(source, target, base)
            return
        if base > -giving.base:
            raise LedgerError(f"Lot {source} holds {plain(-giving.base)}, not {plain(base)}.")
        self._allocate_short(giving, source, target, base)

    def _allocate_short(self, giving: Lot, source: str, target: str, size: Decimal) -> None:
        cost = _share_of_cost(giving, -size)
        receiving = self.lots.setdefault(target, Lot())
        giving.base += size
        giving.cost -= cost
        receiving.base -= size
        receiving.cost += cost
        self.lots[source] = giving

    # The venue's own events ----------------------------------------------------

    def has_funding(self, payment_id: str, time: datetime) -> bool:
        """Whether this payment is booked already, or precedes the books (not the bot's)."""
        cursor = self.funding_cursor
        return cursor is not None and (time < cursor or (time == cursor and payment_id in self.funding_ids))

    def book_funding(self, payment_id: str, time: datetime, amount: Decimal) -> bool:
        """Book one funding payment (`amount` received, negative paid) unless `has_funding`;
        whether it was booked. Payments come oldest first."""
        if self.has_funding(payment_id, time):
            return False
        cursor = self.funding_cursor
        self.funding_ids = (*self.funding_ids, payment_id) if time == cursor else (payment_id,)
        self.funding_cursor = time
        self.funding += amount
        self.quote += amount
        return True

    def liquidate(self, bankruptcy_price: Decimal) -> Decimal:
        """Close every lot at the bankruptcy price, without a fee; returns the loss booked."""
        before = self.realized
        for lot in self.lots.values():
            if lot.base:
                self._close(lot, abs(lot.base), bankruptcy_price, Decimal(0))
                self._complete_round_trip(lot, charge_remaining_cost=True)
        return before - self.realized

    # Reporting ---------------------------------------------------------------

    @property
    def side(self) -> PositionSide | None:
        base = self.base
        if base > 0:
            return PositionSide.LONG
        return PositionSide.SHORT if base < 0 else None

    @property
    def entry_price(self) -> Decimal | None:
        """The books' average entry of the position held (fees in), None when flat."""
        base = self.base
        return self.cost / base if base else None

    def summary(self, mark: Decimal, *, running_for: timedelta | None = None) -> LedgerSummary:
        return replace(super().summary(mark, running_for=running_for), funding=self.funding)


def _share(amount: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    if part == whole or not whole:
        return amount if part else Decimal(0)
    return (amount * part / whole).quantize(COST_SCALE, rounding=ROUND_HALF_EVEN)
