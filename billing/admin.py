"""Staff see every subscription and can grant a plan by hand; each grant is an audit event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from billing.actions import do_record_staff_change
from billing.models import Subscription, SubscriptionStatus


class TrialFilter(admin.SimpleListFilter):
    """Trials about to end are the ones worth a word with the trader."""

    title = "trial"
    parameter_name = "trial"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("ending_this_week", "Ending within 7 days"), ("ended", "Ended, not subscribed")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> QuerySet[Subscription]:
        now = timezone.now()
        trials = queryset.filter(status=SubscriptionStatus.TRIALING)
        if self.value() == "ending_this_week":
            return trials.filter(trial_end__gt=now, trial_end__lte=now + timedelta(days=7))
        if self.value() == "ended":
            return trials.filter(trial_end__lte=now)
        return queryset


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    list_display = ("user", "plan", "status", "trial_end", "current_period_end", "granted_by_staff")
    list_filter = (TrialFilter, "plan", "status", "granted_by_staff")
    ordering = ("trial_end",)
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
