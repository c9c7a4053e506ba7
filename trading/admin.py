from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from trading.models import Fill, Order


class ReadOnlyAdmin(admin.ModelAdmin):
    """Orders and fills mirror the exchange: staff read them, nobody edits them here."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Order)
class OrderAdmin(ReadOnlyAdmin):
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
class FillAdmin(ReadOnlyAdmin):
    list_display = ("time", "bot", "side", "price", "quantity", "fee", "fee_asset", "trade_id")
    list_filter = ("side",)
    search_fields = ("trade_id", "bot__name", "bot__owner__email")
    list_select_related = ("bot",)
    date_hierarchy = "time"
