"""What happens to a subscription as its state changes: a failed payment, a grace period, a
recovery, a smaller plan.

Stripe's webhooks (and staff, in the admin) call the two entry points below. Each one locks the
user and the subscription row, so two deliveries of the same event cannot both act, and each is
idempotent: the same state applied twice changes nothing and sends nothing twice.

When the plan in force shrinks, the bots that fit the new plan keep running; the most recently
started bots beyond each limit (live bots, then paper bots) are stopped through the same stop a
trader uses: orders cancelled, the base kept. Nothing is deleted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from django.apps import apps
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from accounts.audit import record_event
from billing import emails, entitlements, plans
from billing.actions import do_record_staff_change
from billing.models import BillingPeriod, FailedPayment, Subscription, SubscriptionStatus
from billing.plans import Limit, Plan, PlanCode

logger = logging.getLogger(__name__)

STATE_CHANGED = "billing_subscription_changed"
PAYMENT_FAILED = "billing_payment_failed"
BOT_STOPPED = "billing_bot_stopped_by_plan"
STAFF = "staff"

# Stripe's subscription statuses, read as ours. `incomplete` is a checkout whose first payment
# has not gone through: nothing is granted (or taken away) until it does.
_STATUSES: dict[str, str | None] = {
    "trialing": SubscriptionStatus.TRIALING,
    "active": SubscriptionStatus.ACTIVE,
    "past_due": SubscriptionStatus.PAST_DUE,
    "unpaid": SubscriptionStatus.PAST_DUE,  # Stripe gave up retrying; our grace still runs out
    "canceled": SubscriptionStatus.CANCELLED,
    "cancelled": SubscriptionStatus.CANCELLED,
    "incomplete_expired": SubscriptionStatus.CANCELLED,
    "paused": SubscriptionStatus.CANCELLED,
    "incomplete": None,
}


def our_status(status: str) -> str | None:
    """Our status for Stripe's (or our own) word; None leaves the subscription as it is."""
    try:
        return _STATUSES[status]
    except KeyError:
        raise ValueError(f"Unknown subscription status {status!r}.") from None


def money(cents: int) -> str:
    """An amount charged, always with its cents: 2900 -> "$29.00"."""
    whole, part = divmod(cents, 100)
    return f"${whole:,}.{part:02d}"


def _locked(subscription: Subscription) -> Subscription:
    """The row, locked, after the user: the same order `do_start_bot` takes, so a start racing a
    downgrade either counts before it or waits for it."""
    entitlements.lock_user(subscription.user)
    return Subscription.objects.select_for_update().select_related("user").get(pk=subscription.pk)


def _refresh(subscription: Subscription) -> None:
    """The caller's object and the user's remembered copy now show the stored state."""
    subscription.refresh_from_db()
    entitlements.forget(subscription.user)


# Applying a state -----------------------------------------------------------------


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
    period: str | None = None,
    request: HttpRequest | None = None,
) -> None:
    """Make the subscription say this, and act on what changed. `source` names who said it
    ("stripe", "staff", ...); `period` (monthly or yearly) and `request` (staff's, for the audit
    trail) are optional. A `stripe_subscription_id` of None keeps the stored one."""
    status_now = our_status(status)
    if status_now is None:
        logger.info("Subscription %s is incomplete; nothing changes yet.", subscription.pk)
        return
    wanted: dict[str, Any] = {
        "plan": PlanCode(plan).value,
        "status": status_now,
        "current_period_end": current_period_end,
        "cancel_at_period_end": cancel_at_period_end,
        "trial_end": trial_end,
    }
    if period is not None:
        wanted["period"] = BillingPeriod(period).value
    with transaction.atomic():
        row = _locked(subscription)
        if stripe_subscription_id is not None:
            wanted["stripe_subscription_id"] = stripe_subscription_id
        wanted["past_due_since"] = (
            row.past_due_since or _now() if status_now == SubscriptionStatus.PAST_DUE else None
        )
        changed = [name for name, value in wanted.items() if getattr(row, name) != value]
        paid = bool(wanted.get("stripe_subscription_id") or row.stripe_subscription_id)
        if source == STAFF and {"plan", "status"} & set(changed) and not paid:
            wanted["granted_by_staff"] = True  # a plan set by hand: no payment stands behind it
        elif source != STAFF and paid:
            wanted["granted_by_staff"] = False  # a payment drives it now
        changed = [name for name, value in wanted.items() if getattr(row, name) != value]
        if not changed:
            return
        before = {name: getattr(row, name) for name in changed}
        for name in changed:
            setattr(row, name, wanted[name])
        row.save(update_fields=[*changed, "updated_at"])
        _audit_change(row, source=source, before=before, changed=changed, request=request)
        enforce_plan(row)
    _refresh(subscription)


def _now() -> datetime:
    return timezone.now()


def _audit_change(
    row: Subscription, *, source: str, before: dict[str, Any], changed: list[str], request: HttpRequest | None
) -> None:
    if source == STAFF:
        do_record_staff_change(request, row, before=before, changed=changed)
        return
    details = {
        "source": source,
        "user_id": row.user_id,
        "user_email": row.user.email,
        "plan": row.plan,
        "status": row.status,
        "changed": {name: [_plain(before[name]), _plain(getattr(row, name))] for name in changed},
    }
    record_event(STATE_CHANGED, request=request, details=details)


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


# A failed payment -------------------------------------------------------------------


def record_payment_failed(
    subscription: Subscription, *, invoice_id: str, amount_cents: int, at: datetime
) -> None:
    """The subscription is past due from `at` (its first failure); the user hears of each
    invoice once, by email and in the app, however often its payment is retried."""
    with transaction.atomic():
        row = _locked(subscription)
        failure, created = FailedPayment.objects.get_or_create(
            invoice_id=invoice_id,
            defaults={"subscription": row, "amount_cents": amount_cents, "failed_at": at},
        )
        if not created:
            return  # told already; a replay or a retry of the same invoice changes nothing
        if row.status != SubscriptionStatus.PAST_DUE or row.past_due_since is None:
            row.status = SubscriptionStatus.PAST_DUE
            row.past_due_since = row.past_due_since or at
            row.save(update_fields=["status", "past_due_since", "updated_at"])
        record_event(
            PAYMENT_FAILED,
            details={
                "user_id": row.user_id,
                "user_email": row.user.email,
                "invoice_id": invoice_id,
                "amount_cents": amount_cents,
                "plan": row.plan,
                "past_due_since": _plain(row.past_due_since),
            },
        )
        notice = payment_notice(row, failure)
        _notify_payment_failed(row, failure, notice)
        user_id, failure_id = row.user_id, failure.pk
        transaction.on_commit(lambda: emails.send_payment_failed(user_id, failure_id), robust=True)
    _refresh(subscription)


@dataclass(frozen=True)
class PaymentNotice:
    """A failed payment in words, for the banner, the email and the notification."""

    headline: str  # "Your payment of $29.00 failed on 6 Dec."
    action: str  # "Update your card by 13 Dec to keep your Starter plan."
    grace_over: bool

    @property
    def sentence(self) -> str:
        return f"{self.headline} {self.action}"


def day(moment: datetime, time_zone: str) -> str:
    """ "6 Dec", in the trader's own time zone."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        zone = ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError):
        zone = ZoneInfo("UTC")
    local = moment.astimezone(zone)
    return f"{local.day} {local:%b}"


def payment_notice(
    subscription: Subscription, failure: FailedPayment | None, now: datetime | None = None
) -> PaymentNotice:
    zone = subscription.user.time_zone
    failed_at = failure.failed_at if failure else subscription.past_due_since or _now()
    paid = f"payment of {money(failure.amount_cents)}" if failure else "payment"
    headline = f"Your {paid} failed on {day(failed_at, zone)}."
    plan_name = plans.plan_for(subscription.plan).name
    grace = entitlements.grace_end(subscription) or _now()
    if grace <= (now or _now()):
        free = plans.PLANS[plans.FALLBACK_PLAN].name
        action = f"Your {plan_name} plan has lapsed to {free}; update your card to get it back."
        return PaymentNotice(headline, action, grace_over=True)
    return PaymentNotice(
        headline, f"Update your card by {day(grace, zone)} to keep your {plan_name} plan.", False
    )


def _notify_payment_failed(row: Subscription, failure: FailedPayment, notice: PaymentNotice) -> None:
    """The bell (and Telegram, where chosen) hear of it; its email is the billing email, which
    is sent whatever the trader's notification settings, so the notification's own is skipped."""
    from notifications import record as notifications
    from notifications.events import Channel, Kind
    from notifications.models import Delivery, DeliveryStatus

    notification = notifications.record(
        row.user_id,
        Kind.PAYMENT_FAILED,
        f"payment_failed:{failure.invoice_id}",
        title=notice.headline,
        body=notice.action,
        link=reverse("billing"),
        payload={"invoice_id": failure.invoice_id, "amount_cents": failure.amount_cents},
    )
    if notification is not None:
        Delivery.objects.filter(
            notification=notification, channel=Channel.EMAIL, status=DeliveryStatus.PENDING
        ).update(status=DeliveryStatus.SKIPPED, last_error="Sent as the billing email.", completed_at=_now())


# A smaller plan ---------------------------------------------------------------------


def _cause(subscription: Subscription, plan: Plan) -> str:
    """Why the plan in force is `plan`, in words a trader reads in the stop email."""
    if entitlements.grace_end(subscription) is not None:
        return f"your payment failed and its grace period ended, so your plan changed to {plan.name}"
    if subscription.status == SubscriptionStatus.TRIALING:
        trial = plans.plan_for(subscription.plan).name
        return f"your {trial} trial ended, so your plan changed to {plan.name}"
    return f"your plan changed to {plan.name}"


def over_limit(user_id: int, plan: Plan) -> list[tuple[Limit, int, list[Any]]]:
    """For each bot limit the user exceeds: the limit, its allowed count, and the bots to stop.
    The bots started longest ago keep their slots; the most recently started go (a bot still
    starting has no start time yet and counts as the most recent)."""
    bots = apps.get_model("bots", "Bot").objects.filter(
        owner_id=user_id, status__in=entitlements.SLOT_STATUSES
    )
    found = []
    for limit, paper in ((plans.LIVE_BOTS, False), (plans.PAPER_BOTS, True)):
        allowed = plan.allowed(limit)
        if allowed is None:
            continue
        holding = bots.filter(exchange_account__exchange=entitlements.PAPER_EXCHANGE)
        if not paper:
            holding = bots.exclude(exchange_account__exchange=entitlements.PAPER_EXCHANGE)
        oldest_first = holding.order_by(F("started_at").asc(nulls_last=True), "pk")
        beyond = list(oldest_first[allowed:])[::-1]  # the newest first: stops go in that order
        if beyond:
            found.append((limit, allowed, beyond))
    return found


def enforce_plan(subscription: Subscription) -> list[int]:
    """Stop the bots beyond the plan in force; the ids stopped. Call with the row locked
    (`_locked`), inside the transaction: the emails leave after it commits."""
    from bots.actions import InvalidTransition, do_stop_bot
    from bots.models import BotEvent, BotEventKind

    plan = entitlements.plan_in_force(subscription)
    cause = _cause(subscription, plan)
    stopped = []
    for limit, allowed, beyond in over_limit(subscription.user_id, plan):
        for bot in beyond:
            try:
                do_stop_bot(bot)  # orders cancelled, the base kept: the trader's own stop
            except InvalidTransition:
                continue  # it stopped by itself meanwhile
            sentence = (
                f"We stopped “{bot.name}” because {cause}, which allows {limit.count(allowed)}; "
                "nothing was sold or deleted."
            )
            details = {
                "reason": "plan_limit",
                "plan": plan.code.value,
                "limit": limit.key,
                "allowed": allowed,
            }
            BotEvent.objects.create(bot=bot, kind=BotEventKind.WARNING, message=sentence, details=details)
            record_event(
                BOT_STOPPED,
                details={
                    **details,
                    "user_id": subscription.user_id,
                    "user_email": subscription.user.email,
                    "bot_id": bot.pk,
                    "bot_name": bot.name,
                },
            )
            send = partial(emails.send_bot_stopped, subscription.user_id, bot.pk, sentence)
            transaction.on_commit(send, robust=True)
            stopped.append(bot.pk)
    return stopped


def enforce_user(user_id: int) -> list[int]:
    """The beat's check for one user: stop what no longer fits, if anything. Reads without a lock
    first, since nearly every user fits."""
    subscription = Subscription.objects.select_related("user").filter(user_id=user_id).first()
    if subscription is None or not over_limit(user_id, entitlements.plan_in_force(subscription)):
        return []
    with transaction.atomic():
        stopped = enforce_plan(_locked(subscription))
    entitlements.forget(subscription.user)
    return stopped
