"""Records a domain event once and queues its delivery to each channel the trader chose.

Callers inside a transaction use `notify_after_commit`: nothing is recorded for a change
that rolls back, and a notification problem is logged, never raised into the caller (a tick).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from notifications import preferences
from notifications.events import Channel, Severity, severity_of
from notifications.live import push_unread
from notifications.models import Delivery, DeliveryStatus, Notification, QuietHours

logger = logging.getLogger(__name__)

QUIET_HOURS_NOTE = "Quiet hours: shown in the app only."


def notify_after_commit(user_id: int, kind: str, dedupe_key: str, **fields: Any) -> None:
    transaction.on_commit(lambda: record(user_id, kind, dedupe_key, **fields), robust=True)


def record(
    user_id: int,
    kind: str,
    dedupe_key: str,
    *,
    title: str,
    body: str = "",
    link: str = "",
    payload: dict[str, Any] | None = None,
    channels: list[str] | None = None,
) -> Notification | None:
    """The new notification, or None when the event was recorded before or no channel wants it.
    `channels`: the ones the trader chose for this one event (a price alert's), instead of the
    settings for its kind."""
    channels = list(channels) if channels else preferences.wanted_channels(user_id, kind)
    if not channels:
        return None
    severity = severity_of(kind)
    try:
        with transaction.atomic():
            notification = Notification.objects.create(
                user_id=user_id,
                kind=kind,
                severity=severity,
                dedupe_key=dedupe_key[:200],
                title=title[:200],
                body=body,
                link=link,
                payload=payload or {},
            )
            deliveries = create_deliveries(notification, channels)
            transaction.on_commit(
                lambda: enqueue(d.pk for d in deliveries if d.status == DeliveryStatus.PENDING)
            )
    except IntegrityError:
        return None  # this event is already recorded
    return notification


def create_deliveries(notification: Notification, channels: list[str]) -> list[Delivery]:
    """The in-app delivery is the row itself, announced to the bell at once after commit; the
    other channels are queued, except routine events during quiet hours."""
    quiet = notification.severity == Severity.ROUTINE and _is_quiet_now(notification.user_id)
    now = timezone.now()
    deliveries = []
    for channel in channels:
        if channel == Channel.IN_APP:
            fields: dict[str, Any] = {"status": DeliveryStatus.SENT, "attempts": 1, "completed_at": now}
            push_unread(notification.user_id)
        elif quiet:
            fields = {"status": DeliveryStatus.SKIPPED, "last_error": QUIET_HOURS_NOTE, "completed_at": now}
        else:
            fields = {"status": DeliveryStatus.PENDING, "next_attempt_at": now}
        deliveries.append(Delivery.objects.create(notification=notification, channel=channel, **fields))
    return deliveries


def _is_quiet_now(user_id: int) -> bool:
    quiet = QuietHours.objects.filter(user_id=user_id).select_related("user").first()
    if quiet is None:
        return False
    return preferences.is_quiet(quiet, quiet.user.time_zone, timezone.now())


def enqueue(delivery_ids: Iterable[int]) -> None:
    from notifications.tasks import deliver_notification

    for delivery_id in delivery_ids:
        try:
            deliver_notification.delay(delivery_id)
        except Exception:
            # The row is committed and due: the sweep sends it.
            logger.warning(
                "Could not queue notification delivery %s; the sweep will.", delivery_id, exc_info=True
            )
