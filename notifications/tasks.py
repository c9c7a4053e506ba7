"""Celery: send a delivery, retry with backoff, and sweep up what a lost message left behind."""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from bots.webhooks.tasks import longest_countdown
from notifications.channels import SENDERS, NotDeliverable, RetryLater
from notifications.models import Delivery, DeliveryStatus, Notification

logger = logging.getLogger(__name__)

SWEEP_BATCH = 500
SWEEP_GRACE = timedelta(seconds=20)


def backoff_seconds(attempts: int) -> float:
    return float(min(settings.NOTIFICATIONS_RETRY_BASE_SECONDS * 2 ** (attempts - 1), 3600))


@shared_task(name="notifications.tasks.deliver_notification", ignore_result=True, acks_late=True)
def deliver_notification(delivery_id: int) -> None:
    retry_in = attempt_delivery(delivery_id)
    if retry_in is not None and retry_in < longest_countdown():
        deliver_notification.apply_async((delivery_id,), countdown=retry_in)


def attempt_delivery(delivery_id: int) -> float | None:
    """One attempt; the seconds until the next one when it failed and may be retried."""
    with transaction.atomic():
        delivery = (
            Delivery.objects.select_for_update(skip_locked=True)
            .select_related("notification__user")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING)
            .first()
        )
        if delivery is None:
            return None  # sent already, given up, or another worker holds it
        delivery.attempts += 1
        try:
            SENDERS[delivery.channel](delivery)
        except Exception as exc:  # noqa: BLE001 - any failure is recorded on the row and retried
            return _failed(delivery, exc)
        delivery.status = DeliveryStatus.SENT
        delivery.last_error = ""
        delivery.completed_at = timezone.now()
        delivery.next_attempt_at = None
        delivery.save()
    return None


def _failed(delivery: Delivery, exc: Exception) -> float | None:
    delivery.last_error = f"{type(exc).__name__}: {exc}"[:1000]
    later = exc if isinstance(exc, RetryLater) else None
    if later is not None and not later.counts_as_attempt:
        delivery.attempts -= 1
    final = isinstance(exc, NotDeliverable) or delivery.attempts >= delivery.max_attempts
    logger.warning(
        "Notification delivery %s (%s) failed, attempt %s: %s",
        delivery.pk,
        delivery.channel,
        delivery.attempts,
        delivery.last_error,
    )
    if final:
        delivery.status = DeliveryStatus.FAILED
        delivery.completed_at = timezone.now()
        delivery.next_attempt_at = None
        delivery.save()
        return None
    # Telegram's 429 says when to come back; sooner would only be refused again.
    retry_in = later.seconds if later is not None else backoff_seconds(delivery.attempts)
    delivery.next_attempt_at = timezone.now() + timedelta(seconds=retry_in)
    delivery.save()
    return retry_in


@shared_task(name="notifications.tasks.prune_old_notifications", ignore_result=True)
def prune_old_notifications() -> int:
    """Notifications (with their delivery logs) older than the retention are deleted; unsent
    ones wait until they are settled."""
    cutoff = timezone.now() - timedelta(days=settings.NOTIFICATIONS_RETENTION_DAYS)
    deleted, _ = (
        Notification.objects.filter(created_at__lt=cutoff)
        .exclude(deliveries__status=DeliveryStatus.PENDING)
        .delete()
    )
    return deleted


@shared_task(name="notifications.tasks.sweep_due_notifications", ignore_result=True)
def sweep_due_notifications() -> int:
    """Re-queue due deliveries whose message or worker was lost, and later retries."""
    now = timezone.now()
    due = list(
        Delivery.objects.filter(
            status=DeliveryStatus.PENDING,
            attempts__lt=F("max_attempts"),
            next_attempt_at__lte=now - SWEEP_GRACE,
        )
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    for delivery_id in due:
        deliver_notification.delay(delivery_id)
    return len(due)


@shared_task(name="notifications.tasks.check_price_alerts", ignore_result=True)
def check_price_alerts() -> int:
    """Fires the price alerts the market now meets (notifications.alerts)."""
    from notifications.alerts import check_price_alerts as check

    return check()


@shared_task(name="notifications.tasks.send_daily_summaries", ignore_result=True)
def send_daily_summaries() -> int:
    """Sends each trader's daily summary once their chosen local hour has come (notifications.summary)."""
    from notifications.summary import send_due_summaries

    return send_due_summaries()


TELEGRAM_UPDATES_KEPT = timedelta(days=2)


@shared_task(name="notifications.tasks.prune_telegram_updates", ignore_result=True)
def prune_telegram_updates() -> int:
    """Handled update ids are kept only as long as Telegram may redeliver one (it gives up
    after a day)."""
    from notifications.models import TelegramUpdate

    cutoff = timezone.now() - TELEGRAM_UPDATES_KEPT
    deleted, _ = TelegramUpdate.objects.filter(received_at__lt=cutoff).delete()
    return deleted
