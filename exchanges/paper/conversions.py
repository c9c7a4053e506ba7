"""Paper rows to the exchange interface's value types."""

from __future__ import annotations

from decimal import Decimal

from exchanges.base import (
    Fill,
    FundingPayment,
    InstrumentKind,
    OrderState,
    OrderStatus,
    OrderType,
    Position,
    Side,
)
from exchanges.paper import perpetual
from exchanges.paper.engine import POST_ONLY_REFUSED
from exchanges.paper.models import PaperFill, PaperFundingPayment, PaperOrder, PaperPosition
from exchanges.perpetuals import margin


def order_state(order: PaperOrder) -> OrderState:
    average = order.filled_value / order.filled_quantity if order.filled_quantity else None
    # The paper venue rejects an order it has accepted for one reason only: post-only, crossing.
    refused = order.status == OrderStatus.REJECTED.value
    return OrderState(
        exchange_order_id=order.exchange_order_id,
        client_order_id=order.client_order_id,
        symbol=order.symbol,
        side=Side(order.side),
        order_type=OrderType(order.order_type),
        price=order.price,
        quantity=order.quantity,
        filled_quantity=order.filled_quantity,
        average_price=average,
        status=OrderStatus(order.status),
        created_at=order.created_at,
        updated_at=order.updated_at,
        reject_reason=POST_ONLY_REFUSED if refused else "",
        post_only_refused=refused,
        kind=InstrumentKind(order.category),
        reduce_only=order.reduce_only,
    )


def fill_from_row(row: PaperFill) -> Fill:
    return Fill(
        trade_id=row.trade_id,
        exchange_order_id=row.order.exchange_order_id,
        client_order_id=row.order.client_order_id,
        symbol=row.symbol,
        side=Side(row.side),
        price=row.price,
        quantity=row.quantity,
        fee=row.fee,
        fee_asset=row.fee_asset,
        is_maker=row.is_maker,
        time=row.time,
    )


def position_from_row(row: PaperPosition, mark: Decimal) -> Position:
    side = perpetual.side_of(row.size)
    size = abs(row.size)
    return Position(
        symbol=row.symbol,
        side=side,
        size=size,
        entry_price=row.entry_price,
        mark_price=mark,
        leverage=row.leverage,
        liquidation_price=perpetual.liquidation_price(row),
        bankruptcy_price=perpetual.bankruptcy_price(row),
        position_margin=row.position_margin,
        unrealised_pnl=margin.unrealised_pnl(side, row.entry_price, size, mark) if side else Decimal(0),
        realised_pnl=row.realised_pnl,
        funding=row.funding,
    )


def funding_payment_from_row(row: PaperFundingPayment) -> FundingPayment:
    return FundingPayment(
        payment_id=f"funding-{row.pk}",
        symbol=row.symbol,
        time=row.time,
        rate=row.rate,
        mark_price=row.mark_price,
        size=row.size,
        amount=row.amount,
    )
