"""Staff see every subscription and can grant a plan by hand; each grant is an audit event."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from billing.actions import do_record_staff_change
from billing.models import Subscription


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("user", "plan", "status", "trial_end", "current_period_end", "granted_by_staff")
    list_filter = ("plan", "status", "granted_by_staff")
    search_fields = ("user__email",)
    raw_id_fields = ("user",)
    readonly_fields = ("stripe_subscription_id", "created_at", "updated_at")
    fields = (
        "user",
        "plan",
        "status",
        "trial_end",
        "current_period_end",
        "cancel_at_period_end",
        "granted_by_staff",
        "stripe_subscription_id",
        "created_at",
        "updated_at",
    )

    def save_model(self, request: HttpRequest, obj: Subscription, form: Any, change: bool) -> None:
        before = {name: form.initial.get(name) for name in form.changed_data} if change else {}
        if {"plan", "status"} & set(form.changed_data) and not obj.stripe_subscription_id:
            # A plan set by hand is a grant: no payment stands behind it.
            obj.granted_by_staff = True
        super().save_model(request, obj, form, change)
        do_record_staff_change(request, obj, before=before, changed=list(form.changed_data))
