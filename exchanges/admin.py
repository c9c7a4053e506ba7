from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from exchanges.models import ExchangeAccount


@admin.register(ExchangeAccount)
class ExchangeAccountAdmin(admin.ModelAdmin):
    """Read-only, and the fields are listed one by one so ciphertext can never appear.

    Adding goes through the key check and deleting through the audit log, so
    both happen on the trader's own pages.
    """

    list_display = (
        "label",
        "owner",
        "exchange",
        "environment",
        "masked_key",
        "check_outcome",
        "last_checked_at",
    )
    list_filter = ("exchange", "environment", "check_outcome")
    search_fields = ("label", "owner__email")
    list_select_related = ("owner",)
    fields = (
        "owner",
        "label",
        "exchange",
        "environment",
        "base_url",
        "masked_key",
        "permissions",
        "check_outcome",
        "check_messages",
        "last_checked_at",
        "created_at",
        "updated_at",
    )
    readonly_fields = fields

    @admin.display(description="API key")
    def masked_key(self, obj: ExchangeAccount) -> str:
        return obj.masked_key

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
