"""Staff see every subscription, MRR, trials ending this week and past-due users, and can set a
plan by hand. A change made here goes through `billing.lifecycle` like one from Stripe: the
bots beyond a smaller plan stop, and it is an audit event."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django import forms
from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from billing import entitlements, metrics
from billing.actions import do_record_staff_change
from billing.lifecycle import STAFF, apply_subscription_state
from billing.models import FailedPayment, Subscription, SubscriptionStatus
from config.admin import ReadOnlyAdmin


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


class PastDueFilter(admin.SimpleListFilter):
    """Past due, split by whether the grace period still holds the plan."""

    title = "past due since"
    parameter_name = "past_due"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("in_grace", "In the grace period"), ("lapsed", "Grace period over")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Subscription]) -> QuerySet[Subscription]:
        cutoff = timezone.now() - timedelta(days=entitlements.grace_days())
        owing = queryset.filter(status=SubscriptionStatus.PAST_DUE, past_due_since__isnull=False)
        if self.value() == "in_grace":
            return owing.filter(past_due_since__gt=cutoff)
        if self.value() == "lapsed":
            return owing.filter(past_due_since__lte=cutoff)
        return queryset


class SubscriptionForm(forms.ModelForm):
    """A post without the billing period keeps the stored one."""

    class Meta:
        model = Subscription
        fields = (
            "user",
            "plan",
            "period",
            "status",
            "trial_end",
            "current_period_end",
            "cancel_at_period_end",
            "granted_by_staff",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["period"].required = False

    def clean_period(self) -> str:
        return str(self.cleaned_data.get("period") or self.instance.period)


@admin.register(Subscription)
class SubscriptionAdmin(admin.ModelAdmin):
    form = SubscriptionForm
    change_list_template = "admin/billing/subscription/change_list.html"
    list_display = (
        "user",
        "plan",
        "period",
        "status",
        "trial_end",
        "current_period_end",
        "past_due_since",
        "granted_by_staff",
    )
    list_filter = (
        TrialFilter,
        PastDueFilter,
        "plan",
        "period",
        "status",
        ("current_period_end", admin.DateFieldListFilter),
        "granted_by_staff",
    )
    ordering = ("trial_end",)
    search_fields = ("user__email",)
    raw_id_fields = ("user",)
    readonly_fields = ("stripe_subscription_id", "past_due_since", "created_at", "updated_at")
    fields = (
        "user",
        "plan",
        "period",
        "status",
        "trial_end",
        "current_period_end",
        "cancel_at_period_end",
        "granted_by_staff",
        "stripe_subscription_id",
        "past_due_since",
        "created_at",
        "updated_at",
    )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        context = {**(extra_context or {}), "billing_summary": metrics.summary()}
        return super().changelist_view(request, extra_context=context)

    def save_model(self, request: HttpRequest, obj: Subscription, form: Any, change: bool) -> None:
        if not change:
            if not obj.stripe_subscription_id:
                obj.granted_by_staff = True  # a plan set by hand: no payment stands behind it
            super().save_model(request, obj, form, change)
            do_record_staff_change(request, obj, before={}, changed=list(form.changed_data))
            return
        stored = Subscription.objects.get(pk=obj.pk)
        apply_subscription_state(
            stored,
            plan=obj.plan,
            status=obj.status,
            current_period_end=obj.current_period_end,
            cancel_at_period_end=obj.cancel_at_period_end,
            trial_end=obj.trial_end,
            stripe_subscription_id=None,
            source=STAFF,
            period=obj.period,
            request=request,
        )
        if "granted_by_staff" in form.changed_data and stored.granted_by_staff != obj.granted_by_staff:
            # Ticked or unticked by hand, and not already implied by the change of plan.
            before = {"granted_by_staff": stored.granted_by_staff}
            Subscription.objects.filter(pk=obj.pk).update(granted_by_staff=obj.granted_by_staff)
            stored.refresh_from_db()
            do_record_staff_change(request, stored, before=before, changed=["granted_by_staff"])
        obj.refresh_from_db()


@admin.register(FailedPayment)
class FailedPaymentAdmin(ReadOnlyAdmin):
    list_display = ("invoice_id", "subscription", "amount_cents", "failed_at")
    search_fields = ("invoice_id", "subscription__user__email")
    date_hierarchy = "failed_at"
