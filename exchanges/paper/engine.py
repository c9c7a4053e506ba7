"""The paper matching engine: balances, order placement, cancels and fills.

Every change to money happens inside one transaction with the rows it
touches locked. Locks are always taken in the same order (market row, then
orders, then balances sorted by asset), so concurrent workers cannot deadlock.

Funds are reserved when an order is accepted (quote for buys at the limit
price, base for sells) and released as it fills or is cancelled. Spot fees
are taken in the asset received, as on Bybit: base on buys, quote on sells.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from exchanges.base import (
    DuplicateClientOrderId,
    ExchangeUnavailable,
    Instrument,
    InstrumentKind,
    InsufficientBalance,
    InvalidOrder,
    InvalidOrderReason,
    OrderNotFound,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
    shown,
)
from exchanges.paper import perpetual
from exchanges.paper.instruments import instrument_for, instrument_of
from exchanges.paper.models import PaperAccount, PaperBalance, PaperFill, PaperMarket, PaperOrder

OPEN_STATUSES = (OrderStatus.NEW.value, OrderStatus.PARTIALLY_FILLED.value)
POST_ONLY_REFUSED = "A post-only order would trade immediately at the current price."


def new_exchange_order_id() -> str:
    # Bybit spot order ids are long decimal strings.
    return str(uuid.uuid4().int >> 64)


def lock_balances(account_id: int, assets: Iterable[str]) -> dict[str, PaperBalance]:
    """The account's balances of `assets`, row-locked in asset order (one lock order for every
    caller, so two transactions never deadlock), created at zero if missing."""
    wanted = sorted(set(assets))
    balances = _locked(account_id, wanted)
    if len(balances) < len(wanted):  # a first trade in an asset: rare, so checked only then
        for asset in wanted:
            PaperBalance.objects.get_or_create(account_id=account_id, asset=asset)
        balances = _locked(account_id, wanted)
    return balances


def _locked(account_id: int, assets: list[str]) -> dict[str, PaperBalance]:
    # PostgreSQL takes the row locks as the sorted rows come out: in asset order.
    rows = PaperBalance.objects.select_for_update().filter(account_id=account_id, asset__in=assets)
    return {balance.asset: balance for balance in rows.order_by("asset")}


def current_price(symbol: str) -> Decimal:
    price = PaperMarket.objects.filter(symbol=symbol).values_list("last_price", flat=True).first()
    if price is None:
        raise ExchangeUnavailable(f"The paper market has no price for {symbol} yet.")
    return price


def market_fill_price(
    symbol: str, side: Side, last: Decimal, kind: InstrumentKind = InstrumentKind.SPOT
) -> Decimal:
    """Last price moved against the taker by the configured slippage, on the tick grid."""
    instrument = instrument_of(kind, symbol)
    slippage = Decimal(str(settings.PAPER_MARKET_SLIPPAGE))
    if side is Side.BUY:
        return instrument.round_price(last * (1 + slippage), ROUND_UP)
    return instrument.round_price(last * (1 - slippage), ROUND_DOWN)


def place_order(account: PaperAccount, request: OrderRequest) -> PaperOrder:
    instrument = instrument_of(request.kind, request.symbol)
    last = current_price(request.symbol)
    marketable = _is_marketable(request, last)
    fill_price = _immediate_fill_price(request, last) if marketable else None
    instrument.check_order(request.quantity, request.price or fill_price or last, request.order_type)
    refused = marketable and request.time_in_force is TimeInForce.POST_ONLY
    try:
        with transaction.atomic():
            if refused:
                # Like Bybit, the venue keeps the refused order (rejected, nothing reserved), so
                # its client id is taken and it shows in the order history.
                _refuse(account, request)
            else:
                order = _accept(account, request, reserve_price=request.price or fill_price or last)
                if fill_price is not None:
                    fill_order(order, request.quantity, fill_price, is_maker=False)
    except IntegrityError as exc:
        if PaperOrder.objects.filter(account=account, client_order_id=request.client_order_id).exists():
            raise DuplicateClientOrderId(
                f"An order with client id {request.client_order_id} already exists."
            ) from exc
        raise
    if refused:
        raise InvalidOrder(POST_ONLY_REFUSED, reason=InvalidOrderReason.POST_ONLY_WOULD_TAKE)
    order.refresh_from_db()
    return order


def _is_marketable(request: OrderRequest, last: Decimal) -> bool:
    if request.order_type is OrderType.MARKET:
        return True
    assert request.price is not None
    return request.price >= last if request.side is Side.BUY else request.price <= last


def _immediate_fill_price(request: OrderRequest, last: Decimal) -> Decimal:
    if request.order_type is OrderType.MARKET:
        return market_fill_price(request.symbol, request.side, last, request.kind)
    # A marketable limit order takes the book at the current price, never worse than its limit.
    return last


def _refuse(account: PaperAccount, request: OrderRequest) -> PaperOrder:
    now = timezone.now()
    return PaperOrder.objects.create(
        account=account,
        exchange_order_id=new_exchange_order_id(),
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        side=request.side.value,
        order_type=request.order_type.value,
        time_in_force=request.time_in_force.value,
        price=request.price,
        quantity=request.quantity,
        status=OrderStatus.REJECTED.value,
        created_at=now,
        updated_at=now,
        category=request.kind.value,
        reduce_only=request.reduce_only,
    )


def _accept(account: PaperAccount, request: OrderRequest, *, reserve_price: Decimal) -> PaperOrder:
    if request.kind is InstrumentKind.LINEAR:
        reserve = perpetual.accept(account.pk, request, reserve_price=reserve_price)
    else:
        reserve = _reserve_spot(account, request, reserve_price)
    now = timezone.now()
    return PaperOrder.objects.create(
        account=account,
        exchange_order_id=new_exchange_order_id(),
        client_order_id=request.client_order_id,
        symbol=request.symbol,
        side=request.side.value,
        order_type=request.order_type.value,
        time_in_force=request.time_in_force.value,
        price=request.price,
        quantity=request.quantity,
        locked_amount=reserve,
        status=OrderStatus.NEW.value,
        created_at=now,
        updated_at=now,
        category=request.kind.value,
        reduce_only=request.reduce_only,
    )


def _reserve_spot(account: PaperAccount, request: OrderRequest, reserve_price: Decimal) -> Decimal:
    instrument = instrument_for(request.symbol)
    if request.side is Side.BUY:
        asset, reserve = instrument.quote, request.quantity * reserve_price
    else:
        asset, reserve = instrument.base, request.quantity
    # Both balances, in lock order, even though only one is reserved: an
    # immediate fill touches the other, and taking it later could deadlock.
    balance = lock_balances(account.pk, [instrument.base, instrument.quote])[asset]
    if balance.free < reserve:
        raise InsufficientBalance(
            f"Needs {shown(reserve)} {asset} but only {shown(balance.free)} is available."
        )
    balance.free -= reserve
    balance.locked += reserve
    balance.save(update_fields=["free", "locked"])
    return reserve


def fill_order(order: PaperOrder, quantity: Decimal, price: Decimal, *, is_maker: bool) -> PaperFill | None:
    """Apply one fill. The caller holds the order's row lock inside a transaction.

    None when a reduce-only order finds nothing left to reduce: it is cancelled instead.
    """
    if order.category == InstrumentKind.LINEAR:
        return _fill_linear(order, quantity, price, is_maker=is_maker)
    instrument = instrument_for(order.symbol)
    fee_rate = instrument.maker_fee if is_maker else instrument.taker_fee
    balances = lock_balances(order.account_id, [instrument.base, instrument.quote])
    base, quote = balances[instrument.base], balances[instrument.quote]
    if order.side == Side.BUY:
        reserved = quantity * (order.price if order.price is not None else price)
        quote.locked -= reserved
        quote.free += reserved - quantity * price  # a better price than the limit returns the difference
        fee, fee_asset = quantity * fee_rate, instrument.base
        base.free += quantity - fee
    else:
        reserved = quantity
        base.locked -= quantity
        fee, fee_asset = quantity * price * fee_rate, instrument.quote
        quote.free += quantity * price - fee
    base.save(update_fields=["free", "locked"])
    quote.save(update_fields=["free", "locked"])
    _record_progress(order, quantity, price, fee, reserved)
    return PaperFill.objects.create(
        trade_id=str(uuid.uuid4()),
        order=order,
        account_id=order.account_id,
        symbol=order.symbol,
        side=order.side,
        price=price,
        quantity=quantity,
        fee=fee,
        fee_asset=fee_asset,
        is_maker=is_maker,
        time=order.updated_at,
    )


def _fill_linear(order: PaperOrder, quantity: Decimal, price: Decimal, *, is_maker: bool) -> PaperFill | None:
    instrument = instrument_of(order.category, order.symbol)
    quantity = perpetual.fillable(order, quantity)
    if quantity <= 0:
        perpetual.cancel(order)
        return None
    fee = quantity * price * (instrument.maker_fee if is_maker else instrument.taker_fee)
    booked = perpetual.apply_fill(order, quantity, price, fee)
    _record_progress(order, quantity, price, fee, booked.released)
    return _record_fill(order, quantity, price, fee, instrument, is_maker=is_maker, closed=booked.closed)


def _record_fill(
    order: PaperOrder,
    quantity: Decimal,
    price: Decimal,
    fee: Decimal,
    instrument: Instrument,
    *,
    is_maker: bool,
    closed: Decimal,
) -> PaperFill:
    return PaperFill.objects.create(
        trade_id=str(uuid.uuid4()),
        order=order,
        account_id=order.account_id,
        symbol=order.symbol,
        side=order.side,
        price=price,
        quantity=quantity,
        fee=fee,
        fee_asset=instrument.quote,
        is_maker=is_maker,
        time=order.updated_at,
        closed_quantity=closed,
    )


def _record_progress(
    order: PaperOrder, quantity: Decimal, price: Decimal, fee: Decimal, reserved: Decimal
) -> None:
    order.filled_quantity += quantity
    order.filled_value += quantity * price
    order.fee_paid += fee
    order.locked_amount -= reserved
    order.status = (
        OrderStatus.FILLED.value
        if order.filled_quantity == order.quantity
        else OrderStatus.PARTIALLY_FILLED.value
    )
    order.updated_at = timezone.now()
    order.save(
        update_fields=["filled_quantity", "filled_value", "fee_paid", "locked_amount", "status", "updated_at"]
    )


@transaction.atomic
def cancel_order(
    account: PaperAccount, symbol: str, client_order_id: str, kind: InstrumentKind = InstrumentKind.SPOT
) -> PaperOrder:
    order = (
        PaperOrder.objects.select_for_update()
        .filter(
            account=account,
            symbol=symbol,
            client_order_id=client_order_id,
            status__in=OPEN_STATUSES,
            category=kind.value,
        )
        .first()
    )
    if order is None:
        raise OrderNotFound(f"No open {_market_name(symbol, kind)} order with client id {client_order_id}.")
    _release(order)
    return order


def _release(order: PaperOrder) -> None:
    if order.category == InstrumentKind.LINEAR:
        perpetual.cancel(order)
        return
    instrument = instrument_for(order.symbol)
    asset = instrument.quote if order.side == Side.BUY else instrument.base
    balance = lock_balances(order.account_id, [asset])[asset]
    balance.locked -= order.locked_amount
    balance.free += order.locked_amount
    balance.save(update_fields=["free", "locked"])
    order.locked_amount = Decimal(0)
    order.status = OrderStatus.CANCELLED.value
    order.updated_at = timezone.now()
    order.save(update_fields=["locked_amount", "status", "updated_at"])


def _market_name(symbol: str, kind: InstrumentKind) -> str:
    return f"{symbol} perpetual" if kind is InstrumentKind.LINEAR else symbol


def cancel_all_orders(
    account: PaperAccount, symbol: str, kind: InstrumentKind = InstrumentKind.SPOT
) -> list[str]:
    cancelled = []
    open_ids = PaperOrder.objects.filter(
        account=account, symbol=symbol, status__in=OPEN_STATUSES, category=kind.value
    ).values_list("client_order_id", flat=True)
    for client_order_id in list(open_ids):
        try:
            cancel_order(account, symbol, client_order_id, kind)
        except OrderNotFound:
            continue  # filled or cancelled meanwhile
        cancelled.append(client_order_id)
    return cancelled


def match_resting_orders(
    market: PaperMarket, *, low: Decimal, high: Decimal, volume: Decimal | None
) -> list[PaperFill]:
    """Fill resting orders the price range [low, high] crossed, at their own limit prices.

    `volume` (base units) caps what each side can fill, so a thin candle
    fills the best-priced orders first and may leave one partially filled.
    The caller holds `market`'s row lock.
    """
    open_orders = PaperOrder.objects.select_for_update(skip_locked=True).filter(
        symbol=market.symbol, status__in=OPEN_STATUSES, order_type=OrderType.LIMIT.value
    )
    buys = open_orders.filter(Q(side=Side.BUY.value, price__gte=low)).order_by("-price", "created_at", "id")
    sells = open_orders.filter(Q(side=Side.SELL.value, price__lte=high)).order_by("price", "created_at", "id")
    fills: list[PaperFill] = []
    for side_orders in (list(buys), list(sells)):
        fills.extend(_fill_in_priority(side_orders, volume))
    return fills


def _fill_in_priority(orders: list[PaperOrder], volume: Decimal | None) -> list[PaperFill]:
    fills = []
    available = volume
    for order in orders:
        quantity = order.quantity - order.filled_quantity
        if available is not None:
            step = instrument_of(order.category, order.symbol)
            quantity = min(quantity, step.round_quantity(available, ROUND_DOWN))
        if quantity <= 0:
            break
        assert order.price is not None
        fill = fill_order(order, quantity, order.price, is_maker=True)
        if fill is None:
            continue
        fills.append(fill)
        if available is not None:
            available -= fill.quantity
    return fills
