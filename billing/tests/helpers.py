"""Putting a test user on a plan, as staff or the end of a trial would."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from accounts.models import User
from billing import entitlements
from billing.models import Subscription, SubscriptionStatus
from billing.plans import PlanCode


def put_on_plan(user: User, plan: PlanCode) -> Subscription:
    subscription = entitlements.subscription_for(user)
    subscription.plan = plan.value
    subscription.status = SubscriptionStatus.ACTIVE
    subscription.trial_end = None
    subscription.save()
    entitlements.forget(user)
    return subscription


def end_trial(user: User) -> Subscription:
    """The trial ran out a minute ago and nobody subscribed."""
    subscription = entitlements.subscription_for(user)
    subscription.trial_end = timezone.now() - timedelta(minutes=1)
    subscription.save()
    entitlements.forget(user)
    return subscription
