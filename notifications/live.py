"""The bell's live count, pushed to the trader's open pages after commit."""

from __future__ import annotations

from django.db import transaction


def notifications_group(user_id: int) -> str:
    return f"user-{user_id}-notifications"


def unread_count(user_id: int) -> int:
    from notifications.models import Notification

    return Notification.objects.filter(user_id=user_id, read_at__isnull=True).count()


def push_unread(user_id: int) -> None:
    # The count is read by the socket when it renders, so a burst of pushes shows the latest.
    # bots.live holds the process's one publisher; imported here, since bots import this layer.
    from bots.live import _send

    message = {"type": "notifications.unread", "kind": "unread"}
    transaction.on_commit(lambda: _send((notifications_group(user_id),), message))
