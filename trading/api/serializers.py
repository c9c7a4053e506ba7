from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.api.fields import StrictCharField, amount
from exchanges.base import Side
from trading.models import EquitySnapshot, Fill, Order, OrderStatus

SIDE_CHOICES = [(side.value, side.value.title()) for side in Side]  # as on Order and Fill


class OrderSerializer(serializers.ModelSerializer[Order]):
    price = amount(allow_null=True)
    quantity = amount()
    filled_quantity = amount()
    average_price = amount(allow_null=True)

    class Meta:
        model = Order
        fields = (
            "id",
            "client_order_id",
            "exchange_order_id",
            "symbol",
            "side",
            "order_type",
            "price",
            "quantity",
            "filled_quantity",
            "average_price",
            "status",
            "purpose",
            "reject_reason",
            "cancel_unconfirmed_since",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class FillSerializer(serializers.ModelSerializer[Fill]):
    bot = serializers.IntegerField(source="bot_id")
    order = serializers.IntegerField(source="order_id")
    client_order_id = StrictCharField(source="order.client_order_id")
    price = amount()
    quantity = amount()
    fee = amount()

    class Meta:
        model = Fill
        fields = (
            "id",
            "bot",
            "order",
            "client_order_id",
            "trade_id",
            "symbol",
            "side",
            "price",
            "quantity",
            "fee",
            "fee_asset",
            "is_maker",
            "time",
        )
        read_only_fields = fields


class EquitySnapshotSerializer(serializers.ModelSerializer[EquitySnapshot]):
    price = amount()
    equity = amount()
    grid_profit = amount()
    unrealized_pnl = amount()

    class Meta:
        model = EquitySnapshot
        fields = ("time", "price", "equity", "grid_profit", "unrealized_pnl")
        read_only_fields = fields


class OrderFilterSerializer(serializers.Serializer[Any]):
    status = serializers.ChoiceField(choices=OrderStatus.choices, required=False)


class FillFilterSerializer(serializers.Serializer[Any]):
    bot = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)
    symbol = StrictCharField(required=False, max_length=32)
    side = serializers.ChoiceField(choices=SIDE_CHOICES, required=False)
    since = serializers.DateTimeField(required=False, help_text="Fills at or after this time (ISO 8601).")
    # A window with `until` at or before `since` holds no fills: an empty page, as for any
    # window without fills.
    until = serializers.DateTimeField(required=False, help_text="Fills before this time (ISO 8601).")
