"""A domain event recorded once per trader, and its delivery to each channel."""

from __future__ import annotations

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from notifications.events import Channel, Kind, Mode, Severity


class Notification(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=40, choices=Kind.choices)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    title = models.CharField(max_length=200)
    body = models.TextField(blank=True)
    link = models.CharField(max_length=300, blank=True)
    payload = models.JSONField(default=dict, encoder=DjangoJSONEncoder)
    # Names the domain event (a fill's trade id, a bot's run and status): a second report of
    # the same event (a retried callback, a re-run task) finds this row instead of adding one.
    dedupe_key = models.CharField(max_length=200)
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        constraints = [
            models.UniqueConstraint(fields=("user", "dedupe_key"), name="notification_once_per_event"),
        ]
        indexes = [models.Index(fields=("user", "read_at"), name="notification_unread")]

    def __str__(self) -> str:
        return self.title


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    SKIPPED = "skipped", "Skipped"


class Delivery(models.Model):
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=20, choices=Channel.choices)
    status = models.CharField(max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=5)
    last_error = models.TextField(blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    created_at = models.DateTimeField(default=timezone.now)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("notification", "channel"), name="delivery_once_per_channel"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} #{self.notification_id}: {self.status}"


class Preference(models.Model):
    """One cell of the event-by-channel matrix the trader changed; a missing cell is the default."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="notification_preferences"
    )
    kind = models.CharField(max_length=40, choices=Kind.choices)
    channel = models.CharField(max_length=20, choices=Channel.choices)
    mode = models.CharField(max_length=10, choices=Mode.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("user", "kind", "channel"), name="preference_once_per_cell"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} by {self.channel}: {self.mode}"


class QuietHours(models.Model):
    """During these hours (in the trader's time zone) routine notifications reach only the bell;
    critical ones go out as usual."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="quiet_hours"
    )
    start = models.TimeField()
    end = models.TimeField()

    def __str__(self) -> str:
        return f"{self.start:%H:%M}-{self.end:%H:%M}"


class TelegramLink(models.Model):
    """The Telegram chat a trader's notifications go to; one per trader, one trader per chat."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_link"
    )
    chat_id = models.BigIntegerField(unique=True)
    username = models.CharField(max_length=64, blank=True)
    linked_at = models.DateTimeField(default=timezone.now)
    # When /stopall asked for a confirmation; a confirmation later than a minute finds it stale.
    stop_all_asked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"@{self.username or self.chat_id}"


class TelegramLinkToken(models.Model):
    """A deep-link token, stored as its SHA-256 only: the database never holds a usable token."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="telegram_link_tokens"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"link token of user {self.user_id}"


class TelegramUpdate(models.Model):
    """An update already handled: Telegram redelivers a webhook call it saw no answer to."""

    update_id = models.BigIntegerField(primary_key=True)
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    def __str__(self) -> str:
        return str(self.update_id)
