from __future__ import annotations

from django.contrib import admin

from config.admin import ReadOnlyAdmin
from exchanges.models import ExchangeAccount


@admin.register(ExchangeAccount)
class ExchangeAccountAdmin(ReadOnlyAdmin):
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
