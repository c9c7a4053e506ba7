"""USDT perpetuals on the paper venue: one-way mode, isolated margin.

The arithmetic is `exchanges.perpetuals.margin`'s; this module keeps the books.

- Mark price: the paper market's last price (the venue has no separate index), so a candle's low and high
  are the marks it passed through.
- An open order reserves its cost from the USDT balance: initial margin at the order's leverage plus the
  taker fee twice (to open and to close), at its limit price (the last price for a market order). A
  reduce-only order reserves nothing and may only shrink the position.
- A fill that opens moves initial margin + the fee to close (at the bankruptcy price) into the position
  margin, held in the balance's `locked`; a fill that closes realises (price - entry) x size and releases
  its share of the margin. The trading fee is paid from the free balance.
- Funding settles every 8 hours at 00:00, 08:00 and 16:00 UTC on the positions held across that time, at
  the mark of the first price at or after it. The venue has no premium index, so the rate is Bybit's
  formula with a zero premium: the 0.01% interest baseline (longs pay shorts). It is paid from the free
  balance first, then from the position margin; a receipt goes to the free balance.
- Liquidation: when the mark crosses the liquidation price, the account's open orders on the perpetual are
  cancelled and the position is closed at the bankruptcy price: the whole position margin is lost. No fill
  is recorded for it; the position reads flat with the loss in its realised PnL.

Lock order, as in `engine`: market row, orders, balances (by asset), then the position row.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import NamedTuple

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from exchanges.base import (
    InsufficientBalance,
    InvalidOrder,
    InvalidOrderReason,
    LeverageRejected,
    OrderRequest,
    OrderStatus,
    PositionModeLocked,
    PositionSide,
    Side,
    shown,
)
from exchanges.paper.instruments import (
    LEVERAGE_STEP,
    LINEAR_INSTRUMENTS,
    MAX_LEVERAGE,
    MIN_LEVERAGE,
    linear_instrument_for,
)
from exchanges.paper.models import (
    PaperBalance,
    PaperFundingPayment,
    PaperFundingRate,
    PaperOrder,
    PaperPosition,
)
from exchanges.perpetuals import margin

SETTLEMENT = "USDT"
FUNDING_INTERVAL = timedelta(hours=8)
# With no premium index, Bybit's formula gives the interest baseline: 0.0001.
PAPER_FUNDING_RATE = margin.funding_rate(Decimal(0))
# A market idle for longer settles only its last month of funding times.
MAX_FUNDING_CATCH_UP = 90
HEDGE_MODE_REFUSED = "The paper venue trades USDT perpetuals in one-way mode only."
# The books' precision (the models' 18 decimal places).
BOOK_PLACES = Decimal("1e-18")


def _share(amount: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """`part`/`whole` of `amount`, rounded down: the last part takes whatever is left, exactly."""
    return amount if part == whole else (amount * part / whole).quantize(BOOK_PLACES, rounding=ROUND_DOWN)


def tiers(symbol: str) -> tuple[margin.RiskTier, ...]:
    return margin.RISK_TIERS[symbol]


def side_of(size: Decimal) -> PositionSide | None:
    if size > 0:
        return PositionSide.LONG
    return PositionSide.SHORT if size < 0 else None


def lock_position(account_id: int, symbol: str) -> PaperPosition:
    PaperPosition.objects.get_or_create(account_id=account_id, symbol=symbol)
    return PaperPosition.objects.select_for_update().get(account_id=account_id, symbol=symbol)


OPEN_STATUSES = (OrderStatus.NEW.value, OrderStatus.PARTIALLY_FILLED.value)


def _lock_usdt(account_id: int) -> PaperBalance:
    """The account's USDT balance, row-locked (the only balance a perpetual touches)."""
    PaperBalance.objects.get_or_create(account_id=account_id, asset=SETTLEMENT)
    return PaperBalance.objects.select_for_update().get(account_id=account_id, asset=SETTLEMENT)


# Orders ------------------------------------------------------------------------------------


def order_cost(quantity: Decimal, price: Decimal, leverage: Decimal, taker_fee: Decimal) -> Decimal:
    value = quantity * price
    fees = (2 * value * taker_fee).quantize(margin.MONEY_PLACES, rounding=ROUND_UP)
    return margin.initial_margin(value, leverage) + fees


def accept(account_id: int, request: OrderRequest, *, reserve_price: Decimal) -> Decimal:
    """Check a linear order against the position and reserve its cost; return the reserve."""
    instrument = linear_instrument_for(request.symbol)
    balance = _lock_usdt(account_id)
    position = lock_position(account_id, request.symbol)
    if position.hedge_mode:
        raise InvalidOrder(HEDGE_MODE_REFUSED, reason=InvalidOrderReason.BAD_PARAMETER)
    if request.reduce_only:
        _check_reduces(position, request.side, request.quantity)
        return Decimal(0)
    _check_risk_limit(position, request, reserve_price)
    reserve = order_cost(request.quantity, reserve_price, position.leverage, instrument.taker_fee)
    if balance.free < reserve:
        raise InsufficientBalance(
            f"Needs {shown(reserve)} USDT of margin but only {shown(balance.free)} is available."
        )
    _move(balance, reserve)
    balance.save(update_fields=["free", "locked"])
    return reserve


def _check_reduces(position: PaperPosition, side: Side, quantity: Decimal) -> None:
    held = side_of(position.size)
    if held is None:
        raise InvalidOrder(
            f"There is no {position.symbol} position for a reduce-only order to reduce.",
            reason=InvalidOrderReason.REDUCE_ONLY,
        )
    if (side is Side.BUY) == (held is PositionSide.LONG):
        raise InvalidOrder(
            f"A reduce-only {side} would add to the {held} position.", reason=InvalidOrderReason.REDUCE_ONLY
        )
    if quantity > abs(position.size):
        raise InvalidOrder(
            f"A reduce-only order of {shown(quantity)} is larger than the {shown(abs(position.size))} "
            f"{held} position.",
            reason=InvalidOrderReason.REDUCE_ONLY,
        )


def _check_risk_limit(position: PaperPosition, request: OrderRequest, price: Decimal) -> None:
    signed = request.quantity if request.side is Side.BUY else -request.quantity
    value = abs(position.size + signed) * price
    highest = tiers(request.symbol)[-1].limit
    if value > highest:
        raise InvalidOrder(
            f"A position worth {shown(value)} USDT would be above the risk limit of {shown(highest)}.",
            reason=InvalidOrderReason.AMOUNT_TOO_LARGE,
        )


def _move(balance: PaperBalance, amount: Decimal) -> None:
    """Free to locked (negative: back)."""
    balance.free -= amount
    balance.locked += amount


def fillable(order: PaperOrder, quantity: Decimal) -> Decimal:
    """How much of `quantity` a linear order may fill now: a reduce-only order never more than the
    position it reduces (which a liquidation or another order may have shrunk)."""
    if not order.reduce_only:
        return quantity
    position = PaperPosition.objects.filter(account_id=order.account_id, symbol=order.symbol).first()
    if position is None or side_of(position.size) is None:
        return Decimal(0)
    if (order.side == Side.BUY) == (position.size > 0):
        return Decimal(0)
    return min(quantity, abs(position.size))


class Booked(NamedTuple):
    released: Decimal  # of the order's reserve
    closed: Decimal  # the part of the fill that closed (part of) the position held


def apply_fill(order: PaperOrder, quantity: Decimal, price: Decimal, fee: Decimal) -> Booked:
    """Book one fill on the position and the USDT balance."""
    instrument = LINEAR_INSTRUMENTS[order.symbol]
    balance = _lock_usdt(order.account_id)
    position = lock_position(order.account_id, order.symbol)
    remaining = order.quantity - order.filled_quantity
    released = _share(order.locked_amount, quantity, remaining)
    _move(balance, -released)
    signed = quantity if order.side == Side.BUY else -quantity
    closing = min(quantity, abs(position.size)) if position.size * signed < 0 else Decimal(0)
    pnl = _close(position, balance, closing, price) if closing else Decimal(0)
    if quantity > closing:
        _open(position, balance, signed / quantity * (quantity - closing), price, instrument.taker_fee)
    balance.free -= fee
    position.realised_pnl += pnl - fee
    _absorb_shortfall(position, balance)
    balance.save(update_fields=["free", "locked"])
    position.save()
    return Booked(released, closing)


def _close(position: PaperPosition, balance: PaperBalance, quantity: Decimal, price: Decimal) -> Decimal:
    held = abs(position.size)
    sign = Decimal(1) if position.size > 0 else Decimal(-1)
    freed = _share(position.position_margin, quantity, held)
    pnl = sign * (price - position.entry_price) * quantity
    position.position_margin -= freed
    position.size -= sign * quantity
    _move(balance, -freed)
    balance.free += pnl
    if position.size == 0:
        position.entry_price = Decimal(0)
        position.funding_settled_at = None
    return pnl


def _open(
    position: PaperPosition, balance: PaperBalance, signed: Decimal, price: Decimal, taker_fee: Decimal
) -> None:
    quantity = abs(signed)
    side = PositionSide.LONG if signed > 0 else PositionSide.SHORT
    piece = margin.position_margin(side, price, quantity, position.leverage, taker_fee)
    held = abs(position.size)
    if held == 0:
        position.funding_settled_at = timezone.now()
    average = (position.entry_price * held + price * quantity) / (held + quantity)
    # Cut against the trader: a long's entry up, a short's down.
    position.entry_price = average.quantize(BOOK_PLACES, rounding=ROUND_UP if signed > 0 else ROUND_DOWN)
    position.size += signed
    position.position_margin += piece
    _move(balance, piece)


def _absorb_shortfall(position: PaperPosition, balance: PaperBalance) -> None:
    """A fill at a worse price than reserved can leave the free balance short: the position margin
    covers it, and past that the venue does (as an insurance fund would)."""
    short = -balance.free
    if short <= 0:
        return
    taken = min(short, position.position_margin)
    position.position_margin -= taken
    balance.locked -= taken
    balance.free = Decimal(0)


# Leverage and mode -------------------------------------------------------------------------


@transaction.atomic
def set_leverage(account_id: int, symbol: str, leverage: Decimal) -> bool:
    """Set the symbol's leverage; False when it already was. An open position's margin is re-sized
    to the new leverage, from or back to the free balance."""
    instrument = linear_instrument_for(symbol)
    _check_leverage(symbol, leverage)
    balance = _lock_usdt(account_id)
    position = lock_position(account_id, symbol)
    if position.leverage == leverage:
        return False
    held = abs(position.size)
    if held:
        tier = margin.tier_for(held * position.entry_price, tiers(symbol))
        if leverage > tier.max_leverage:
            raise LeverageRejected(
                f"A {symbol} position of this size allows at most {shown(tier.max_leverage)}x leverage."
            )
        side = side_of(position.size)
        assert side is not None
        wanted = margin.position_margin(side, position.entry_price, held, leverage, instrument.taker_fee)
        extra = wanted - position.position_margin
        if extra > balance.free:
            raise InsufficientBalance(
                f"Lowering the leverage needs {shown(extra)} USDT more margin; {shown(balance.free)} is free."
            )
        _move(balance, extra)
        position.position_margin = wanted
        balance.save(update_fields=["free", "locked"])
    position.leverage = leverage
    position.save()
    return True


def _check_leverage(symbol: str, leverage: Decimal) -> None:
    most = MAX_LEVERAGE[symbol]
    if not MIN_LEVERAGE <= leverage <= most or leverage % LEVERAGE_STEP:
        raise LeverageRejected(
            f"Leverage for {symbol} must be between {shown(MIN_LEVERAGE)}x and {shown(most)}x "
            f"in steps of {shown(LEVERAGE_STEP)}."
        )


@transaction.atomic
def set_hedge_mode(account_id: int, symbol: str, hedge: bool) -> bool:
    """Switch the symbol's position mode; False when it already was. Bybit refuses while the symbol
    has open orders or a position, and so does this."""
    linear_instrument_for(symbol)
    position = lock_position(account_id, symbol)
    if position.hedge_mode == hedge:
        return False
    if position.size:
        raise PositionModeLocked(f"The {symbol} position must be closed before its position mode changes.")
    if open_linear_orders(account_id, symbol).exists():
        raise PositionModeLocked(f"Cancel the open {symbol} orders before changing the position mode.")
    position.hedge_mode = hedge
    position.save()
    return True


def open_linear_orders(account_id: int, symbol: str) -> QuerySet[PaperOrder]:
    return PaperOrder.objects.filter(
        account_id=account_id, symbol=symbol, category="linear", status__in=OPEN_STATUSES
    )


# The market moves: funding and liquidation -------------------------------------------------


def funding_times(after: datetime, until: datetime) -> list[datetime]:
    """The 00/08/16 UTC funding times in (after, until], the last MAX_FUNDING_CATCH_UP of them."""
    hour = after.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    moment = hour.replace(hour=hour.hour - hour.hour % 8) + FUNDING_INTERVAL  # the first one after `after`
    count = (until - moment) // FUNDING_INTERVAL + 1 if until >= moment else 0
    skipped = max(0, count - MAX_FUNDING_CATCH_UP)
    return [moment + FUNDING_INTERVAL * index for index in range(skipped, count)]


def open_positions(symbol: str) -> QuerySet[PaperPosition]:
    return PaperPosition.objects.filter(symbol=symbol).exclude(size=0)


def on_price(symbol: str, *, mark: Decimal, low: Decimal, high: Decimal, now: datetime) -> None:
    """Settle funding and liquidate what the move reached. The caller holds the market row lock."""
    if symbol not in LINEAR_INSTRUMENTS or not open_positions(symbol).exists():
        return
    settle_funding(symbol, mark=mark, now=now)
    liquidate(symbol, low=low, high=high)


def settle_funding(symbol: str, *, mark: Decimal, now: datetime) -> None:
    for position_id, account_id, settled in open_positions(symbol).values_list(
        "id", "account_id", "funding_settled_at"
    ):
        for moment in funding_times(settled or now, now):
            rate = _funding_rate_at(symbol, moment, mark)
            _pay_funding(account_id, position_id, rate)
        PaperPosition.objects.filter(pk=position_id).update(funding_settled_at=now)


def _funding_rate_at(symbol: str, moment: datetime, mark: Decimal) -> PaperFundingRate:
    rate, _ = PaperFundingRate.objects.get_or_create(
        symbol=symbol, time=moment, defaults={"rate": PAPER_FUNDING_RATE, "mark_price": mark}
    )
    return rate


def _pay_funding(account_id: int, position_id: int, rate: PaperFundingRate) -> None:
    balance = _lock_usdt(account_id)
    position = PaperPosition.objects.select_for_update().get(pk=position_id)
    side = side_of(position.size)
    if side is None:
        return
    flow = margin.funding_payment(abs(position.size) * rate.mark_price, rate.rate, side)
    PaperFundingPayment.objects.create(
        account_id=account_id,
        symbol=position.symbol,
        time=rate.time,
        rate=rate.rate,
        mark_price=rate.mark_price,
        size=position.size,
        amount=flow,
    )
    position.funding += flow
    position.realised_pnl += flow
    if flow >= 0:
        balance.free += flow
    else:
        from_free = min(-flow, balance.free)
        from_margin = min(-flow - from_free, position.position_margin)
        balance.free -= from_free
        balance.locked -= from_margin
        position.position_margin -= from_margin
    balance.save(update_fields=["free", "locked"])
    position.save()


def liquidation_price(position: PaperPosition) -> Decimal | None:
    side = side_of(position.size)
    if side is None:
        return None
    fee = LINEAR_INSTRUMENTS[position.symbol].taker_fee
    return margin.liquidation_price(
        side,
        position.entry_price,
        abs(position.size),
        tiers(position.symbol),
        margin=position.position_margin,
        fee_rate=fee,
    )


def bankruptcy_price(position: PaperPosition) -> Decimal | None:
    side = side_of(position.size)
    if side is None:
        return None
    fee = LINEAR_INSTRUMENTS[position.symbol].taker_fee
    return margin.bankruptcy_price(
        side, position.entry_price, abs(position.size), margin=position.position_margin, fee_rate=fee
    )


def _reached(position: PaperPosition, low: Decimal, high: Decimal) -> bool:
    liq = liquidation_price(position)
    if liq is None:
        return False
    return low <= liq if position.size > 0 else high >= liq


def liquidate(symbol: str, *, low: Decimal, high: Decimal) -> list[int]:
    """Close every position whose liquidation price the move reached; return their account ids."""
    liquidated = []
    for candidate in open_positions(symbol).order_by("account_id"):
        if not _reached(candidate, low, high):
            continue
        for order in open_linear_orders(candidate.account_id, symbol).select_for_update():
            cancel(order)
        balance = _lock_usdt(candidate.account_id)
        position = PaperPosition.objects.select_for_update().get(pk=candidate.pk)
        if not _reached(position, low, high):
            continue
        balance.locked -= position.position_margin
        position.realised_pnl -= position.position_margin
        position.position_margin = Decimal(0)
        position.size = Decimal(0)
        position.entry_price = Decimal(0)
        position.funding_settled_at = None
        balance.save(update_fields=["free", "locked"])
        position.save()
        liquidated.append(position.account_id)
    return liquidated


def cancel(order: PaperOrder) -> None:
    """Cancel a linear order (row-locked by the caller) and give its reserve back. Also what becomes
    of a reduce-only order left with nothing to reduce, as on Bybit."""
    balance = _lock_usdt(order.account_id)
    _move(balance, -order.locked_amount)
    balance.save(update_fields=["free", "locked"])
    order.locked_amount = Decimal(0)
    order.status = OrderStatus.CANCELLED.value
    order.updated_at = timezone.now()
    order.save(update_fields=["locked_amount", "status", "updated_at"])
