"""A real localstripe process for the billing tests (one per session), and Stripe-signed webhooks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import stripe
from django.conf import settings
from django.test import Client

from billing import stripe_api, webhooks
from billing.stripe_server import LocalStripe, start_localstripe, use_api_base


@pytest.fixture(scope="session")
def localstripe() -> Iterator[LocalStripe]:
    previous = stripe.api_base
    server = start_localstripe()
    yield server
    server.stop()
    use_api_base(previous)


@pytest.fixture
def stripe_server(localstripe: LocalStripe, db: None) -> LocalStripe:
    """localstripe with the catalogue synced and our webhook endpoint configured."""
    use_api_base(localstripe.url)
    stripe_api.sync_catalogue()
    webhooks.ensure_endpoint()
    return localstripe


def sign(body: str, secret: str, at: int | None = None) -> str:
    """Stripe's signature header: t=<unix time>,v1=HMAC-SHA256(secret, "<t>.<body>")."""
    at = at or int(time.time())
    signature = stripe.WebhookSignature._compute_signature(f"{at}.{body}", secret)
    return f"t={at},v1={signature}"


def post_event(client: Client, event: dict[str, Any], secret: str | None = None) -> Any:
    body = json.dumps(event)
    return client.post(
        webhooks.webhook_path(),
        data=body,
        content_type="application/json",
        HTTP_STRIPE_SIGNATURE=sign(body, secret or settings.STRIPE_WEBHOOK_SECRET),
    )


def events_from_localstripe(server: LocalStripe, event_type: str, object_id: str) -> list[dict[str, Any]]:
    """The events localstripe recorded for one object, oldest first, as Stripe would send them."""
    response = requests.get(
        f"{server.url}/v1/events",
        params={"type": event_type, "limit": "100"},
        headers={"Authorization": f"Bearer {settings.STRIPE_SECRET_KEY}"},
        timeout=5,
    )
    response.raise_for_status()
    found = [e for e in response.json()["data"] if e["data"]["object"].get("id") == object_id]
    return sorted(found, key=lambda e: e["created"])
