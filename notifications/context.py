from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

from notifications.live import unread_count


def bell(request: HttpRequest) -> dict[str, Callable[[], int]]:
    """The unread count, counted only by a page that shows it (templates call callables)."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    user_id = user.pk
    return {"unread_notifications": lambda: unread_count(user_id)}
