from __future__ import annotations

from django.contrib import admin

from config.admin import PlainDecimalsAdmin, ReadOnlyAdmin
from trading.models import Fill, Order


@admin.register(Order)
class OrderAdmin(PlainDecimalsAdmin, ReadOnlyAdmin):
    list_display = (
        "client_order_id",
        "bot",
        "side",
        "price",
        "quantity",
        "filled_quantity",
        "status",
        "created_at",
    )
    list_filter = ("status", "side", "purpose")
    search_fields = ("client_order_id", "exchange_order_id", "bot__name", "bot__owner__email")
    list_select_related = ("bot",)


@admin.register(Fill)
class FillAdmin(PlainDecimalsAdmin, ReadOnlyAdmin):
    list_display = ("time", "bot", "side", "price", "quantity", "fee", "fee_asset", "trade_id")
    list_filter = ("side",)
    search_fields = ("trade_id", "bot__name", "bot__owner__email")
    list_select_related = ("bot",)
    date_hierarchy = "time"
