"""Changes to a user's plan state, each one recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.http import HttpRequest

from accounts.audit import record_event
from billing.models import Subscription, SubscriptionStatus
from billing.plans import PlanCode

STAFF_CHANGE = "billing_plan_set_by_staff"


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def do_record_staff_change(
    request: HttpRequest | None, subscription: Subscription, *, before: dict[str, Any], changed: list[str]
) -> None:
    """The audit event for a plan set by hand in the admin: who, for whom, what changed."""
    details = {
        "user_id": subscription.user_id,
        "user_email": subscription.user.email,
        "plan": subscription.plan,
        "status": subscription.status,
        "granted_by_staff": subscription.granted_by_staff,
        "current_period_end": _plain(subscription.current_period_end),
        "changed": {
            name: [_plain(before.get(name)), _plain(getattr(subscription, name))] for name in changed
        },
    }
    record_event(STAFF_CHANGE, request=request, details=details)


def do_grant_plan(
    subscription: Subscription,
    plan: PlanCode,
    *,
    until: datetime | None = None,
    request: HttpRequest | None = None,
) -> Subscription:
    """Give a plan by hand (a partner, a support case) with no payment; audited, and the bots
    beyond a smaller plan stopped, as any change of plan does."""
    from billing.lifecycle import STAFF, apply_subscription_state  # it records through this module

    apply_subscription_state(
        subscription,
        plan=plan.value,
        status=SubscriptionStatus.ACTIVE,
        current_period_end=until,
        cancel_at_period_end=False,
        trial_end=subscription.trial_end,
        stripe_subscription_id=None,
        source=STAFF,
        request=request,
    )
    return subscription
