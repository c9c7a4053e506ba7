"""Celery: send a delivery, retry with backoff, and sweep up anything a lost message left behind."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from bots.webhooks.delivery import attempt_delivery
from bots.webhooks.models import DeliveryStatus, WebhookDelivery

SWEEP_BATCH = 500
# Retries due soon arrive by their own countdown message; the sweep leaves them this long first.
SWEEP_GRACE = timedelta(seconds=20)


def longest_countdown() -> float:
    """A countdown message is held unacknowledged by the worker that took it; the broker hands
    it to another once TASK_VISIBILITY_TIMEOUT passes, so a longer wait would run it twice."""
    return settings.TASK_VISIBILITY_TIMEOUT / 2


@shared_task(name="bots.webhooks.tasks.deliver_webhook", ignore_result=True, acks_late=True)
def deliver_webhook(delivery_id: int) -> None:
    result = attempt_delivery(delivery_id)
    if result is not None and result.retry_in is not None:
        queue_retry(delivery_id, result.retry_in)


def queue_retry(delivery_id: int, retry_in: float) -> None:
    """A retry due soon goes as a countdown message; a later one is sent by the sweep, which
    finds it by its `next_attempt_at`."""
    if retry_in < longest_countdown():
        deliver_webhook.apply_async((delivery_id,), countdown=retry_in)


@shared_task(name="bots.webhooks.tasks.sweep_due_deliveries", ignore_result=True)
def sweep_due_deliveries() -> int:
    """Re-queue due deliveries whose message or worker was lost; settle ones out of attempts."""
    now = timezone.now()
    unleased = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    pending = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).filter(unleased)
    pending.filter(attempt_count__gte=F("max_attempts")).update(
        status=DeliveryStatus.FAILED, lease_until=None, next_attempt_at=None, completed_at=now
    )
    due = list(
        pending.filter(attempt_count__lt=F("max_attempts"), next_attempt_at__lte=now - SWEEP_GRACE)
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:SWEEP_BATCH]
    )
    for delivery_id in due:
        deliver_webhook.delay(delivery_id)
    return len(due)


@shared_task(name="bots.webhooks.tasks.prune_old_deliveries", ignore_result=True)
def prune_old_deliveries() -> int:
    cutoff = timezone.now() - timedelta(days=settings.WEBHOOK_LOG_RETENTION_DAYS)
    deleted, _ = (
        WebhookDelivery.objects.filter(created_at__lt=cutoff).exclude(status=DeliveryStatus.PENDING).delete()
    )
    return deleted
