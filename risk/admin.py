"""Staff see every trader's risk rules and set the leverage cap a trader cannot raise."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from accounts.audit import record_event
from risk.models import RiskRules


@admin.register(RiskRules)
class RiskRulesAdmin(admin.ModelAdmin):
    list_display = ("user", "daily_loss_limit", "max_total_investment", "max_leverage", "staff_max_leverage")
    search_fields = ("user__email",)
    fields = (
        "user",
        "daily_loss_limit",
        "daily_loss_action",
        "max_total_investment",
        "max_bots_per_symbol",
        "max_leverage",
        "staff_max_leverage",
        "tripped_on",
    )
    # The trader's own rules are theirs to change; staff set only the cap above them.
    readonly_fields = tuple(name for name in fields if name != "staff_max_leverage")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: RiskRules, form: Any, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if "staff_max_leverage" in form.changed_data:
            record_event(
                "risk.staff_leverage_cap_set",
                request=request,
                actor=request.user,  # type: ignore[arg-type]
                details={"user": obj.user_id, "staff_max_leverage": obj.staff_max_leverage},
            )
