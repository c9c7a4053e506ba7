"""Stripe's webhooks, received at dj-stripe's endpoint (/stripe/webhook/<uuid>/).

dj-stripe verifies the signature (Stripe's `t=…,v1=HMAC-SHA256` scheme), stores the request
as a WebhookEventTrigger, and calls `process_trigger` (DJSTRIPE_WEBHOOK_EVENT_CALLBACK) inside
one transaction. An event is processed once: its id is stored as dj-stripe's Event in that same
transaction, so a replay finds it and changes nothing, while a handler that raised rolls the Event
back with everything else, answers 500, and Stripe's retry runs it again (dj-stripe #832).

Handlers never trust the copy of the object inside the event: they fetch the subscription from
the API, so events that arrive out of order still end in Stripe's current state.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings

from billing import entitlements, lifecycle, stripe_api
from billing.models import Subscription

logger = logging.getLogger(__name__)

ENDPOINT_ID = "we_gridwise"
HANDLED = (
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
    "checkout.session.completed",
)


def ensure_endpoint() -> Any:
    """dj-stripe's WebhookEndpoint row for our configured secret and UUID (no call to Stripe:
    the endpoint itself is registered in Stripe's dashboard, docs/configuration.md)."""
    from djstripe.models import WebhookEndpoint

    endpoint, _ = WebhookEndpoint.objects.update_or_create(
        id=ENDPOINT_ID,
        defaults={
            "djstripe_uuid": settings.STRIPE_WEBHOOK_UUID,
            "secret": settings.STRIPE_WEBHOOK_SECRET,
            "url": f"/stripe/webhook/{settings.STRIPE_WEBHOOK_UUID}/",
            "enabled_events": list(HANDLED),
            "status": "enabled",
            "livemode": settings.STRIPE_LIVE_MODE,
            "djstripe_validation_method": settings.DJSTRIPE_WEBHOOK_VALIDATION,
        },
    )
    return endpoint


def webhook_path() -> str:
    return f"/stripe/webhook/{settings.STRIPE_WEBHOOK_UUID}/"


def process_trigger(trigger: Any, api_key: str | None = None) -> None:
    """dj-stripe's callback for a verified webhook: record the event once, then handle it."""
    from djstripe.models import Event

    data = trigger.json_body
    if Event.objects.filter(id=data["id"]).exists():
        trigger.event = Event.objects.get(id=data["id"])
        trigger.processed = True
        return  # a replay: already applied
    event = Event.objects.create(
        id=data["id"],
        type=data["type"],
        data=data["data"],
        livemode=bool(data.get("livemode")),
        api_version=data.get("api_version") or "",
        created=_when(data.get("created")),
        stripe_data=data,
    )
    handler = HANDLERS.get(event.type)
    if handler is not None:
        handler(data["data"]["object"])
    trigger.event = event
    trigger.processed = True


def _when(timestamp: int | None) -> datetime:
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp else datetime.now(tz=UTC)


def _on_subscription(obj: Any) -> None:
    stripe_api.sync_subscription(str(obj["id"]))


def _subscription_of_invoice(obj: Any) -> str | None:
    """Top-level before Stripe's 2025-03-31 API, under parent.subscription_details since."""
    parent = (obj.get("parent") or {}).get("subscription_details") or {}
    found = obj.get("subscription") or parent.get("subscription")
    return str(found) if found else None


def _on_invoice_paid(obj: Any) -> None:
    subscription_id = _subscription_of_invoice(obj)
    if subscription_id:
        stripe_api.sync_subscription(subscription_id)


def _on_payment_failed(obj: Any) -> None:
    # The invoice as Stripe holds it now, not the event's copy.
    invoice: Any = stripe.Invoice.retrieve(str(obj["id"]), api_key=stripe_api.key())
    user = stripe_api.user_of_customer(str(invoice["customer"]))
    subscription = Subscription.objects.select_for_update().get(pk=entitlements.subscription_for(user).pk)
    lifecycle.record_payment_failed(
        subscription,
        invoice_id=str(invoice["id"]),
        amount_cents=int(invoice.get("amount_due") or 0),
        at=_when(invoice.get("created") or invoice.get("date")),
    )
    entitlements.forget(user)


def _on_checkout_completed(obj: Any) -> None:
    """Checkout made the subscription: link its customer to the user who started it, if
    Checkout created a new customer, then apply the subscription."""
    from djstripe.models import Customer

    from accounts.models import User

    customer_id = str(obj["customer"])
    if not Customer.objects.filter(id=customer_id).exists():
        user = User.objects.get(pk=int(obj["client_reference_id"]))
        data: Any = stripe.Customer.retrieve(customer_id, api_key=stripe_api.key())
        # Only the link is needed here; dj-stripe's full sync (payment methods, sources) is
        # left to djstripe_sync_models, so a hiccup there cannot hold up the plan.
        Customer.objects.create(
            id=customer_id,
            subscriber=user,
            livemode=bool(data.get("livemode")),
            email=data.get("email") or "",
            created=_when(data.get("created")),
            stripe_data=data.to_dict(),
        )
    if obj.get("subscription"):
        stripe_api.sync_subscription(str(obj["subscription"]))


HANDLERS: dict[str, Callable[[Any], None]] = {
    "customer.subscription.created": _on_subscription,
    "customer.subscription.updated": _on_subscription,
    "customer.subscription.deleted": _on_subscription,
    "invoice.paid": _on_invoice_paid,
    "invoice.payment_succeeded": _on_invoice_paid,
    "invoice.payment_failed": _on_payment_failed,
    "checkout.session.completed": _on_checkout_completed,
}
