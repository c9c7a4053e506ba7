"""A user's plan state. Stripe (through dj-stripe) will drive it; staff can set it by hand."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.utils import timezone

from billing.plans import PLANS, PlanCode


class SubscriptionStatus(models.TextChoices):
    TRIALING = "trialing", "Trial"
    ACTIVE = "active", "Active"
    PAST_DUE = "past_due", "Past due"
    CANCELLED = "cancelled", "Cancelled"


PLAN_CHOICES = [(code.value, plan.name) for code, plan in PLANS.items()]


class BillingPeriod(models.TextChoices):
    MONTHLY = "monthly", "Monthly"
    YEARLY = "yearly", "Yearly"


class Subscription(models.Model):
    """One per user, created at the first question asked about them (`billing.entitlements`).

    The plan in force is computed on read (`billing.entitlements.plan_in_force`): a trial past
    `trial_end` or a cancellation past `current_period_end` reads as Free without any job
    having to run."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="subscription"
    )
    plan = models.CharField(max_length=20, choices=PLAN_CHOICES, default=PlanCode.PRO.value)
    status = models.CharField(
        max_length=20, choices=SubscriptionStatus.choices, default=SubscriptionStatus.TRIALING
    )
    trial_end = models.DateTimeField(null=True, blank=True)
    current_period_end = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the paid period renews or, once cancelled, ends. Empty: no end.",
    )
    cancel_at_period_end = models.BooleanField(default=False)
    granted_by_staff = models.BooleanField(
        default=False, help_text="Set by staff by hand (e.g. for a partner), not by a payment."
    )
    stripe_subscription_id = models.CharField(max_length=255, null=True, blank=True, unique=True)
    period = models.CharField(
        max_length=10,
        choices=BillingPeriod.choices,
        default=BillingPeriod.MONTHLY,
        help_text="How often the paid plan is billed; MRR counts a yearly price over twelve months.",
    )
    past_due_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the first payment of this unpaid stretch failed; the grace period runs from here.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user} · {self.get_plan_display()} ({self.get_status_display()})"

    def trial_running(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return (
            self.status == SubscriptionStatus.TRIALING and self.trial_end is not None and self.trial_end > now
        )


class FailedPayment(models.Model):
    """One invoice whose payment failed: the user is told once per invoice, however often the
    payment is retried and the failure reported again."""

    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="failed_payments")
    invoice_id = models.CharField(max_length=255, unique=True)
    amount_cents = models.PositiveIntegerField()
    failed_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-failed_at", "-id")

    def __str__(self) -> str:
        return f"{self.invoice_id} · {self.amount_cents} cents"
