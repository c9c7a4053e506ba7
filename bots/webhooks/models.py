"""A trader's webhook endpoints and the log of what was sent to them.

Imported by `bots.models`, so Django registers these models under the `bots` app.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from typing import ClassVar

from django.conf import settings
from django.db import models
from django.utils import timezone

from accounts.models import OwnedQuerySet
from bots.webhooks.events import EventType
from exchanges import credentials

MAX_ENDPOINTS_PER_USER = 10
# A rotated secret keeps signing beside the new one this long, so receivers can switch over.
PREVIOUS_SECRET_GRACE = timedelta(hours=24)


def new_secret() -> str:
    return f"whsec_{secrets.token_urlsafe(32)}"


def new_event_id() -> str:
    return f"evt_{secrets.token_hex(12)}"


class WebhookEndpoint(models.Model):
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_endpoints"
    )
    url = models.URLField(max_length=500)
    description = models.CharField(max_length=100, blank=True)
    events = models.JSONField(default=list)  # EventType values; a list so SQLite works too
    enabled = models.BooleanField(default=True)
    # Fernet tokens (exchanges.credentials); the plaintext is reached only through signing_secrets().
    secret_encrypted = models.TextField()
    previous_secret_encrypted = models.TextField(blank=True)
    previous_secret_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[OwnedQuerySet[WebhookEndpoint]] = OwnedQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("created_at", "pk")

    def __str__(self) -> str:
        return self.url

    def subscribes_to(self, event_type: str) -> bool:
        return event_type == EventType.PING or (self.enabled and event_type in self.events)

    def event_labels(self) -> list[str]:
        return [EventType(value).label for value in self.events if value in EventType.values]

    def set_secret(self, secret: str, *, keep_previous: bool = False, now: datetime | None = None) -> None:
        if keep_previous and self.secret_encrypted:
            self.previous_secret_encrypted = self.secret_encrypted
            self.previous_secret_expires_at = (now or timezone.now()) + PREVIOUS_SECRET_GRACE
        self.secret_encrypted = credentials.encrypt(secret)


def signing_secrets(endpoint: WebhookEndpoint, now: datetime | None = None) -> list[str]:
    """The current secret, then a rotated-out one still in its grace period.

    A function rather than a model method, so no template can reach the plaintext.
    """
    found = [credentials.decrypt(endpoint.secret_encrypted)]
    expires = endpoint.previous_secret_expires_at
    if endpoint.previous_secret_encrypted and expires and expires > (now or timezone.now()):
        found.append(credentials.decrypt(endpoint.previous_secret_encrypted))
    return found


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SUCCEEDED = "succeeded", "Delivered"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


class WebhookDelivery(models.Model):
    """One event for one endpoint; its body is fixed when created and re-sent as is."""

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=40)
    event_type = models.CharField(max_length=32, choices=EventType.choices)
    body = models.TextField()
    status = models.CharField(max_length=12, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    max_attempts = models.PositiveSmallIntegerField(default=5)
    attempt_count = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, default=timezone.now)
    # Set while a worker sends; a worker that dies leaves it to expire and the sweep retries.
    lease_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-pk")
        constraints = (
            models.UniqueConstraint(fields=("endpoint", "event_id"), name="webhook_delivery_once_per_event"),
        )
        indexes = (
            models.Index(fields=("status", "next_attempt_at"), name="webhook_delivery_due"),
            models.Index(fields=("endpoint", "-created_at"), name="webhook_delivery_log"),
        )

    def __str__(self) -> str:
        return f"{self.event_type} {self.event_id} → endpoint {self.endpoint_id}"

    @property
    def last_attempt(self) -> WebhookAttempt | None:
        attempts = list(self.attempts.all())  # uses prefetch_related when the log page asked for it
        return attempts[-1] if attempts else None


class WebhookAttempt(models.Model):
    """One try at sending a delivery: what came back, or what went wrong."""

    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveSmallIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(null=True, blank=True)  # null while in flight
    status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    error = models.CharField(max_length=300, blank=True)
    response_body = models.TextField(blank=True)  # truncated
    succeeded = models.BooleanField(default=False)

    class Meta:
        ordering = ("number",)
        constraints = (
            models.UniqueConstraint(fields=("delivery", "number"), name="webhook_attempt_number_once"),
        )

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"

    @property
    def in_flight(self) -> bool:
        return self.duration_ms is None and not self.error
