"""Webhook endpoints and their delivery log as the API shows them. Secrets appear only in the
answers to create and rotate-secret, never in a read."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.fields import StrictBooleanField, StrictCharField
from bots.webhooks.events import SUBSCRIBABLE
from bots.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint

EVENT_CHOICES = [event.value for event in SUBSCRIBABLE]


@extend_schema_field(
    {"type": "string", "format": "uri", "pattern": r"^https?://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/\S*)?$"}
)
class WebhookUrlField(StrictCharField):
    """An http(s) address; the schema says so, the webhook checks say the rest."""


class WebhookEndpointSerializer(serializers.ModelSerializer[WebhookEndpoint]):
    previous_secret_expires_at = serializers.DateTimeField(
        read_only=True,
        allow_null=True,
        help_text="After a rotation, until when the old secret still signs beside the new one.",
    )

    class Meta:
        model = WebhookEndpoint
        fields = (
            "id",
            "url",
            "description",
            "events",
            "enabled",
            "previous_secret_expires_at",
            "created_at",
            "updated_at",
        )
        read_only_fields = fields


class WebhookEndpointWriteSerializer(serializers.Serializer[Any]):
    """The types only; the rules (a public http(s) URL, known events) are the page form's own."""

    url = WebhookUrlField(
        max_length=500, help_text="Where we POST events; its host must resolve to public addresses."
    )
    description = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
    events = serializers.ListField(
        child=serializers.ChoiceField(choices=EVENT_CHOICES),
        allow_empty=False,
        min_length=1,
        max_length=len(EVENT_CHOICES),
        help_text="The event types to send; at least one.",
    )
    enabled = StrictBooleanField(default=True, help_text="Off: no events are sent (pings still are).")


class CreatedWebhookEndpointSerializer(WebhookEndpointSerializer):
    secret = StrictCharField(
        read_only=True, help_text="The signing secret. Shown this once; rotate-secret makes a new one."
    )

    class Meta(WebhookEndpointSerializer.Meta):
        fields = (*WebhookEndpointSerializer.Meta.fields, "secret")  # type: ignore[assignment]
        read_only_fields = fields  # type: ignore[assignment]


class RotatedSecretSerializer(serializers.Serializer[Any]):
    secret = StrictCharField(read_only=True, help_text="The new signing secret.")
    previous_secret_expires_at = serializers.DateTimeField(
        read_only=True, help_text="The old secret keeps signing beside the new one until then."
    )


class WebhookAttemptSerializer(serializers.ModelSerializer[WebhookAttempt]):
    class Meta:
        model = WebhookAttempt
        fields = (
            "number",
            "started_at",
            "duration_ms",
            "status_code",
            "error",
            "response_body",
            "succeeded",
        )
        read_only_fields = fields
        extra_kwargs = {
            "duration_ms": {"help_text": "Null while the attempt is in flight."},
            "response_body": {"help_text": "The first 1,000 bytes of the receiver's answer."},
        }


class WebhookDeliverySerializer(serializers.ModelSerializer[WebhookDelivery]):
    attempts = WebhookAttemptSerializer(many=True, read_only=True)

    class Meta:
        model = WebhookDelivery
        fields = (
            "id",
            "event_id",
            "event_type",
            "status",
            "attempt_count",
            "max_attempts",
            "next_attempt_at",
            "created_at",
            "completed_at",
            "body",
            "attempts",
        )
        read_only_fields = fields
        extra_kwargs = {
            "body": {"help_text": "The JSON sent, byte for byte as signed."},
            "next_attempt_at": {"help_text": "When the next try is due; null once settled."},
        }
