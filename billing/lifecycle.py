"""How a paid subscription's state lands on `billing.Subscription`: the only two ways in.

This is the minimal version: it saves what Stripe says. Grace periods, downgrade stops and
emails build on these same two signatures.
"""

from __future__ import annotations

from datetime import datetime

from billing.models import Subscription, SubscriptionStatus


def apply_subscription_state(
    subscription: Subscription,
    *,
    plan: str,
    status: str,
    current_period_end: datetime | None,
    cancel_at_period_end: bool,
    trial_end: datetime | None,
    stripe_subscription_id: str | None,
    source: str,
) -> None:
    """Save the state a payment provider (`source`) reports for this user's subscription."""
    subscription.plan = plan
    subscription.status = status
    subscription.current_period_end = current_period_end
    subscription.cancel_at_period_end = cancel_at_period_end
    subscription.trial_end = trial_end
    subscription.stripe_subscription_id = stripe_subscription_id
    subscription.granted_by_staff = False
    subscription.save()


def record_payment_failed(
    subscription: Subscription, *, invoice_id: str, amount_cents: int, at: datetime
) -> None:
    """A renewal's payment failed: the subscription is past due."""
    subscription.status = SubscriptionStatus.PAST_DUE
    subscription.save(update_fields=["status", "updated_at"])
