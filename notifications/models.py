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


class AlertDirection(models.TextChoices):
    ABOVE = "above", "Rises to or above"
    BELOW = "below", "Falls to or below"


class PriceAlertQuerySet(models.QuerySet["PriceAlert"]):
    def owned_by(self, user: object) -> PriceAlertQuerySet:
        return self.filter(user=user)

    def armed(self) -> PriceAlertQuerySet:
        return self.filter(fired_at__isnull=True)


class PriceAlert(models.Model):
    """ "BTCUSDT above 70000 on my paper account": fires once, the first time a price check finds
    it met (`fired_at` claims it), until the trader re-arms it."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="price_alerts")
    # The venue whose price counts: prices differ between venues (and a paper market is its own).
    exchange_account = models.ForeignKey(
        "exchanges.ExchangeAccount", on_delete=models.CASCADE, related_name="price_alerts"
    )
    symbol = models.CharField(max_length=32)
    direction = models.CharField(max_length=10, choices=AlertDirection.choices)
    price = models.DecimalField(max_digits=38, decimal_places=18)
    # The channels to alert on; empty follows the "Price alert" row of the notification settings.
    channels = models.JSONField(default=list, blank=True)
    note = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    fired_at = models.DateTimeField(null=True, blank=True)
    fired_price = models.DecimalField(max_digits=38, decimal_places=18, null=True, blank=True)
    # Counts re-arms, so that each firing is its own event (the notification's dedupe key).
    armed_count = models.PositiveIntegerField(default=1)

    objects = PriceAlertQuerySet.as_manager()

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = [
            models.Index(
                fields=("exchange_account", "symbol"),
                condition=models.Q(fired_at__isnull=True),
                name="price_alert_armed",
            ),
            models.Index(fields=("user", "created_at"), name="price_alert_by_user"),
        ]

    def __str__(self) -> str:
        return f"{self.symbol} {self.direction} {self.price}"

    def is_met(self, price: object) -> bool:
        if self.direction == AlertDirection.ABOVE:
            return bool(price >= self.price)  # type: ignore[operator]
        return bool(price <= self.price)  # type: ignore[operator]


class DailySummary(models.Model):
    """The trader's daily summary: sent at `hour` o'clock in their time zone, once a local day."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="daily_summary"
    )
    hour = models.PositiveSmallIntegerField()  # 0-23, local
    # The local date of the last summary sent; a conditional UPDATE on it claims each day once.
    last_summary_on = models.DateField(null=True, blank=True)

    def __str__(self) -> str:
        return f"daily at {self.hour:02d}:00"


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
