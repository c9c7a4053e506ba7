"""Changes to a user's plan state, each one recorded."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db import transaction
from django.http import HttpRequest

from accounts.audit import record_event
from billing import entitlements, stripe_api
from billing.models import Subscription, SubscriptionStatus
from billing.plans import PlanCode
from billing.stripe_api import BillingError

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


# Stripe: subscribe, change plan, cancel at period end, resume -------------------------------
# Each `check_*` raises BillingError with a sentence for the page; `do_*` calls Stripe and
# applies the answer (the webhook that follows finds nothing left to change).


def check_subscribe(user: Any, code: str, period: str) -> tuple[PlanCode, str]:
    try:
        plan = PlanCode(code)
    except ValueError as exc:
        raise BillingError("No such plan.") from exc
    if plan == PlanCode.FREE:
        raise BillingError("The Free plan needs no subscription.")
    if period not in ("monthly", "yearly"):
        raise BillingError("Choose monthly or yearly billing.")
    subscription = entitlements.subscription_for(user)
    if subscription.stripe_subscription_id and subscription.status != SubscriptionStatus.CANCELLED:
        raise BillingError("You already have a subscription: change its plan on your billing page.")
    return plan, period


def do_subscribe_with_card(user: Any, plan: PlanCode, period: str, card: Any) -> Subscription:
    created = stripe_api.subscribe_with_card(user, plan, period, card)
    with transaction.atomic():
        stripe_api.sync_subscription(str(created["id"]))
    entitlements.forget(user)
    return entitlements.subscription_for(user)


def check_change_plan(user: Any, code: str, period: str) -> tuple[Subscription, PlanCode, str]:
    subscription = entitlements.subscription_for(user)
    if not subscription.stripe_subscription_id or subscription.status == SubscriptionStatus.CANCELLED:
        raise BillingError("You have no paid subscription to change: subscribe first.")
    try:
        plan = PlanCode(code)
    except ValueError as exc:
        raise BillingError("No such plan.") from exc
    if plan == PlanCode.FREE:
        raise BillingError("To move to Free, cancel at the end of the period.")
    if period not in ("monthly", "yearly"):
        raise BillingError("Choose monthly or yearly billing.")
    return subscription, plan, period


def do_change_plan(subscription: Subscription, price_id: str) -> None:
    with transaction.atomic():
        stripe_api.change_plan(subscription, price_id)


def check_cancel(user: Any, *, cancel: bool) -> Subscription:
    subscription = entitlements.subscription_for(user)
    if not subscription.stripe_subscription_id or subscription.status == SubscriptionStatus.CANCELLED:
        raise BillingError("You have no paid subscription.")
    if subscription.cancel_at_period_end == cancel:
        raise BillingError(
            "It is already cancelled at the end of the period." if cancel else "It is not cancelled."
        )
    return subscription


def do_set_cancel_at_period_end(subscription: Subscription, *, cancel: bool) -> None:
    with transaction.atomic():
        stripe_api.set_cancel_at_period_end(subscription, cancel)


def do_replace_card(user: Any, card: Any) -> Subscription:
    """The new card pays what the old one left open; a past-due plan is then Stripe's again."""
    still_open = stripe_api.replace_card(user, card)
    subscription = entitlements.subscription_for(user)
    if still_open:
        raise BillingError("The card was saved, but the open invoice was declined again: try another card.")
    if subscription.stripe_subscription_id and subscription.status == SubscriptionStatus.PAST_DUE:
        with transaction.atomic():
            stripe_api.sync_subscription(subscription.stripe_subscription_id)
        entitlements.forget(user)
    return entitlements.subscription_for(user)
