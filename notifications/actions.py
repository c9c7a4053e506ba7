"""Writes on a trader's notifications; every query is scoped to that trader."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone

from notifications.live import push_unread
from notifications.models import Notification


def caller_id(request: HttpRequest) -> int:
    if request.user.pk is None:
        raise PermissionDenied
    return int(request.user.pk)


def owned(user_id: int) -> QuerySet[Notification]:
    return Notification.objects.filter(user_id=user_id)


def filtered(
    user_id: int, kind: str = "", severity: str = "", unread: bool = False
) -> QuerySet[Notification]:
    notifications = owned(user_id)
    if kind:
        notifications = notifications.filter(kind=kind)
    if severity:
        notifications = notifications.filter(severity=severity)
    if unread:
        notifications = notifications.filter(read_at__isnull=True)
    return notifications


def do_mark_read(user_id: int, notifications: QuerySet[Notification]) -> int:
    with transaction.atomic():
        changed = notifications.filter(user_id=user_id, read_at__isnull=True).update(read_at=timezone.now())
        if changed:
            push_unread(user_id)  # the bell on the trader's other pages follows
    return changed
