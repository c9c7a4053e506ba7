"""Everything a trader does to their webhook endpoints: check, then do."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.db import transaction
from django.http import HttpRequest

from accounts.audit import record_event
from accounts.models import User
from billing import entitlements
from bots.webhooks import emit, guard
from bots.webhooks.events import EventType
from bots.webhooks.models import (
    MAX_ENDPOINTS_PER_USER,
    WebhookDelivery,
    WebhookEndpoint,
    new_secret,
)


class EndpointLimitReached(Exception):
    pass


def check_endpoint_url(url: str) -> None:
    """Raises guard.UnsafeURL with a message for the form. Resolves DNS: not inside a transaction."""
    guard.check_url(url)


def check_can_add_endpoint(owner: User) -> None:
    """Raises PlanLimitReached when the plan has no webhooks, EndpointLimitReached past the
    per-user cap. `do_create_endpoint` checks again under a lock."""
    entitlements.check_add_webhook(owner)
    if WebhookEndpoint.objects.owned_by(owner).count() >= MAX_ENDPOINTS_PER_USER:
        raise EndpointLimitReached(
            f"You can have at most {MAX_ENDPOINTS_PER_USER} webhook endpoints; delete one first."
        )


def do_create_endpoint(
    owner: User,
    *,
    url: str,
    events: list[str],
    description: str = "",
    enabled: bool = True,
    request: HttpRequest | None = None,
) -> WebhookEndpoint:
    """Raises EndpointLimitReached; the owner's row is locked so two requests cannot both add
    the last allowed endpoint."""
    with transaction.atomic():
        list(User.objects.select_for_update().filter(pk=owner.pk).values_list("pk", flat=True))
        check_can_add_endpoint(owner)
        endpoint = WebhookEndpoint(
            owner=owner, url=url, events=events, description=description, enabled=enabled
        )
        endpoint.set_secret(new_secret())
        endpoint.save()
        emit.forget_endpoints(owner.pk)
        _audit("webhook_endpoint_added", endpoint, request)
    return endpoint


def do_update_endpoint(endpoint: WebhookEndpoint, **fields: Any) -> WebhookEndpoint:
    with transaction.atomic():
        for name, value in fields.items():
            setattr(endpoint, name, value)
        endpoint.save()
        emit.forget_endpoints(endpoint.owner_id)
    return endpoint


def do_rotate_secret(endpoint: WebhookEndpoint, request: HttpRequest | None = None) -> WebhookEndpoint:
    """A new secret; the old one keeps signing beside it for a day so receivers can switch."""
    with transaction.atomic():
        endpoint.set_secret(new_secret(), keep_previous=True)
        endpoint.save(
            update_fields=[
                "secret_encrypted",
                "previous_secret_encrypted",
                "previous_secret_expires_at",
                "updated_at",
            ]
        )
        _audit("webhook_secret_rotated", endpoint, request)
    return endpoint


def do_delete_endpoint(endpoint: WebhookEndpoint, request: HttpRequest | None = None) -> None:
    with transaction.atomic():
        owner_id = endpoint.owner_id
        _audit("webhook_endpoint_deleted", endpoint, request)
        endpoint.delete()
        emit.forget_endpoints(owner_id)


def do_send_ping(endpoint: WebhookEndpoint) -> WebhookDelivery:
    """A `ping` event, sent once (no retries), whether or not the endpoint is enabled."""
    data = {
        "endpoint": {"id": endpoint.pk, "url": endpoint.url},
        "message": "Test ping from Gridwise. Check the signature with your endpoint's secret.",
    }
    (delivery,) = emit.create_deliveries([endpoint], EventType.PING, data, max_attempts=1)
    return delivery


def _audit(action: str, endpoint: WebhookEndpoint, request: HttpRequest | None) -> None:
    details = {"endpoint_id": endpoint.pk, "host": urlsplit(endpoint.url).hostname or ""}
    record_event(action, request=request, actor=endpoint.owner, details=details)
