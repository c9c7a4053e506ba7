"""`Exchange` for one paper account: the same contract as a real venue."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db.models import QuerySet
from django.utils import timezone

from exchanges.base import (
    CANDLE_INTERVALS,
    Balance,
    Candle,
    Exchange,
    Fill,
    FundingPayment,
    FundingRate,
    Instrument,
    InstrumentKind,
    InvalidOrder,
    InvalidOrderReason,
    KeyPermissions,
    OrderNotFound,
    OrderRequest,
    OrderState,
    OrderStatus,
    Position,
    Ticker,
)
from exchanges.paper import engine, history, perpetual
from exchanges.paper.conversions import (
    fill_from_row,
    funding_payment_from_row,
    order_state,
    position_from_row,
)
from exchanges.paper.instruments import INSTRUMENTS, instrument_for, linear_instrument_for
from exchanges.paper.models import (
    PaperAccount,
    PaperBalance,
    PaperFill,
    PaperFundingPayment,
    PaperFundingRate,
    PaperOrder,
    PaperPosition,
)
from exchanges.perpetuals.margin import RiskTier

SPOT = InstrumentKind.SPOT
FINISHED_STATUSES = (OrderStatus.FILLED.value, OrderStatus.CANCELLED.value, OrderStatus.REJECTED.value)
# What `fill_from_row` reads of a fill and its order.
FILL_FIELDS = (
    "trade_id",
    "symbol",
    "side",
    "price",
    "quantity",
    "fee",
    "fee_asset",
    "is_maker",
    "time",
    "order__exchange_order_id",
    "order__client_order_id",
)


class PaperExchange(Exchange):
    name = "paper"
    supports_perpetuals = True

    def __init__(self, account: PaperAccount) -> None:
        self.account = account

    def instruments(self) -> list[Instrument]:
        return list(INSTRUMENTS.values())

    def instrument(self, symbol: str) -> Instrument:
        return instrument_for(symbol)

    def ticker(self, symbol: str) -> Ticker:
        tick = instrument_for(symbol).tick_size
        last = engine.current_price(symbol)
        return Ticker(symbol=symbol, last=last, bid=last - tick, ask=last + tick, time=timezone.now())

    def candles(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
        instrument_for(symbol)
        width = CANDLE_INTERVALS.get(interval)
        if width is None:
            raise InvalidOrder(
                f"Unknown candle interval {interval!r}.", reason=InvalidOrderReason.BAD_PARAMETER
            )
        return history.candles(symbol, width, start, end)

    def balances(self) -> dict[str, Balance]:
        return {
            row.asset: Balance(asset=row.asset, free=row.free, locked=row.locked)
            for row in PaperBalance.objects.filter(account=self.account)
        }

    def place_order(self, request: OrderRequest) -> OrderState:
        return order_state(engine.place_order(self.account, request))

    def cancel_order(self, symbol: str, *, client_order_id: str, kind: InstrumentKind = SPOT) -> None:
        engine.cancel_order(self.account, symbol, client_order_id, kind)

    def cancel_all_orders(self, symbol: str, *, kind: InstrumentKind = SPOT) -> list[str]:
        return engine.cancel_all_orders(self.account, symbol, kind)

    def _orders(self, kind: InstrumentKind) -> QuerySet[PaperOrder]:
        # Spot and perpetual orders share the table; a caller asks for one market at a time.
        return PaperOrder.objects.filter(account=self.account, category=kind.value)

    def open_orders(self, symbol: str | None = None, *, kind: InstrumentKind = SPOT) -> list[OrderState]:
        orders = self._orders(kind).filter(status__in=engine.OPEN_STATUSES)
        if symbol is not None:
            orders = orders.filter(symbol=symbol)
        return [order_state(order) for order in orders.order_by("created_at", "id")]

    def order(self, symbol: str, client_order_id: str, *, kind: InstrumentKind = SPOT) -> OrderState:
        order = self._orders(kind).filter(symbol=symbol, client_order_id=client_order_id).first()
        if order is None:
            raise OrderNotFound(f"No order with client id {client_order_id}.")
        return order_state(order)

    def order_history(self, symbol: str, limit: int = 50, *, kind: InstrumentKind = SPOT) -> list[OrderState]:
        orders = self._orders(kind).filter(symbol=symbol, status__in=FINISHED_STATUSES)
        return [order_state(order) for order in orders.order_by("-updated_at", "-id")[:limit]]

    def fills_since(
        self,
        symbol: str,
        since: datetime | None,
        *,
        client_order_prefix: str | None = None,
        kind: InstrumentKind = SPOT,
    ) -> list[Fill]:
        fills = (
            PaperFill.objects.filter(account=self.account, symbol=symbol, order__category=kind.value)
            .select_related("order")
            .only(*FILL_FIELDS)  # a woken bot reads these on its way to booking a fill
        )
        if since is not None:
            fills = fills.filter(time__gte=since)
        if client_order_prefix:
            fills = fills.filter(order__client_order_id__startswith=client_order_prefix)
        return [fill_from_row(row) for row in fills.order_by("time", "id")]

    def closed_quantities(self, trade_ids: list[str]) -> dict[str, Decimal]:
        """How much of each perpetual fill closed the position held (Bybit's closedSize)."""
        rows = PaperFill.objects.filter(account=self.account, trade_id__in=trade_ids)
        return dict(rows.values_list("trade_id", "closed_quantity"))

    def check_api_key(self) -> KeyPermissions:
        # A paper account has no key: it can trade and can never withdraw.
        return KeyPermissions(
            can_read=True, can_trade_spot=True, can_withdraw=False, read_only=False, ip_whitelist=()
        )

    # USDT perpetuals (see exchanges.paper.perpetual for what is modelled and how).

    def perpetual_instrument(self, symbol: str) -> Instrument:
        return linear_instrument_for(symbol)

    def positions(self, symbol: str | None = None) -> list[Position]:
        if symbol is not None:
            linear_instrument_for(symbol)
            row = PaperPosition.objects.filter(account=self.account, symbol=symbol).first()
            return [
                position_from_row(
                    row or PaperPosition(account=self.account, symbol=symbol), self.mark_price(symbol)
                )
            ]
        rows = PaperPosition.objects.filter(account=self.account).exclude(size=0).order_by("symbol")
        return [position_from_row(row, self.mark_price(row.symbol)) for row in rows]

    def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        perpetual.set_leverage(self.account.pk, symbol, leverage)

    def set_one_way_mode(self, symbol: str) -> None:
        perpetual.set_hedge_mode(self.account.pk, symbol, hedge=False)

    def mark_price(self, symbol: str) -> Decimal:
        linear_instrument_for(symbol)
        return engine.current_price(symbol)

    def funding_history(self, symbol: str, since: datetime | None = None) -> list[FundingRate]:
        linear_instrument_for(symbol)
        rows = PaperFundingRate.objects.filter(symbol=symbol)
        if since is not None:
            rows = rows.filter(time__gte=since)
        return [FundingRate(symbol=symbol, rate=row.rate, time=row.time) for row in rows.order_by("time")]

    def risk_tiers(self, symbol: str) -> tuple[RiskTier, ...]:
        linear_instrument_for(symbol)
        return perpetual.tiers(symbol)

    def funding_payments(self, symbol: str, since: datetime | None = None) -> list[FundingPayment]:
        linear_instrument_for(symbol)
        rows = PaperFundingPayment.objects.filter(account=self.account, symbol=symbol)
        if since is not None:
            rows = rows.filter(time__gte=since)
        return [funding_payment_from_row(row) for row in rows.order_by("time", "pk")]
