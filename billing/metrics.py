"""The figures staff watch: monthly recurring revenue, trials about to end, past-due users.

MRR counts what is being paid: active subscriptions on a paid plan with a Stripe payment behind
them (a staff grant pays nothing) whose plan is still in force. Trials have paid nothing yet
and are left out. Past-due subscriptions are left out too and shown beside it as MRR at risk:
their money has not come in, and most either recover within the grace period or lapse. A yearly
price counts as a twelfth a month; the sum is taken in cents over twelve and rounded down once.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone

from billing import entitlements, plans
from billing.lifecycle import money
from billing.models import BillingPeriod, Subscription, SubscriptionStatus

WEEK = timedelta(days=7)


def monthly_cents(rows: Iterable[tuple[str, str]]) -> int:
    """The monthly worth, in cents, of (plan, period) pairs: yearly prices over twelve."""
    monthly = yearly = 0
    for code, period in rows:
        plan = plans.plan_for(code)
        if period == BillingPeriod.YEARLY:
            yearly += plan.yearly_cents
        else:
            monthly += plan.monthly_cents
    return (12 * monthly + yearly) // 12


def _paid(status: str, now: datetime) -> QuerySet[Subscription]:
    lapsed = Q(cancel_at_period_end=True, current_period_end__lte=now)
    return (
        Subscription.objects.filter(status=status, granted_by_staff=False)
        .exclude(plan=plans.PlanCode.FREE.value)
        .exclude(lapsed)
    )


def mrr_cents(now: datetime | None = None) -> int:
    return monthly_cents(
        _paid(SubscriptionStatus.ACTIVE, now or timezone.now()).values_list("plan", "period")
    )


def at_risk_cents(now: datetime | None = None) -> int:
    """What the past-due subscriptions still in their grace period would add once paid."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=entitlements.grace_days())
    past_due = _paid(SubscriptionStatus.PAST_DUE, now).filter(past_due_since__gt=cutoff)
    return monthly_cents(past_due.values_list("plan", "period"))


def trials_ending_this_week(now: datetime | None = None) -> QuerySet[Subscription]:
    now = now or timezone.now()
    return (
        Subscription.objects.filter(
            status=SubscriptionStatus.TRIALING, trial_end__gt=now, trial_end__lte=now + WEEK
        )
        .select_related("user")
        .order_by("trial_end")
    )


def past_due() -> QuerySet[Subscription]:
    return (
        Subscription.objects.filter(status=SubscriptionStatus.PAST_DUE)
        .select_related("user")
        .order_by("past_due_since")
    )


@dataclass(frozen=True)
class PastDueRow:
    subscription: Subscription
    grace_end: datetime | None
    lapsed: bool


@dataclass(frozen=True)
class Summary:
    mrr: str
    at_risk: str
    trials: list[Subscription]
    trials_count: int
    past_due: list[PastDueRow]
    past_due_count: int


def summary(limit: int = 10, now: datetime | None = None) -> Summary:
    """The admin's board; each list shows its first `limit` rows and its full count."""
    now = now or timezone.now()
    trials = trials_ending_this_week(now)
    owing = past_due()
    rows = []
    for subscription in owing[:limit]:
        end = entitlements.grace_end(subscription)
        rows.append(PastDueRow(subscription, end, end is not None and end <= now))
    return Summary(
        mrr=money(mrr_cents(now)),
        at_risk=money(at_risk_cents(now)),
        trials=list(trials[:limit]),
        trials_count=trials.count(),
        past_due=rows,
        past_due_count=owing.count(),
    )
