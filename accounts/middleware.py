from __future__ import annotations

import hashlib
import zoneinfo
from collections.abc import Callable

from allauth.account.adapter import get_adapter
from allauth.usersessions import app_settings as usersessions_settings
from allauth.usersessions.models import UserSession
from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

# How stale a session's "last seen" may get on the security page. Recording it is a write
# transaction (five round trips); once a minute keeps it off every page view's path.
SESSION_ACTIVITY_SECONDS = 60


class UserTimezoneMiddleware:
    """Render times in the signed-in user's own time zone."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            try:
                timezone.activate(zoneinfo.ZoneInfo(user.time_zone))
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                timezone.deactivate()
        else:
            timezone.deactivate()
        return self.get_response(request)


class UserSessionActivityMiddleware:
    """allauth's UserSessionsMiddleware, recording a session's activity at most once every
    SESSION_ACTIVITY_SECONDS per client: a new IP address or browser is recorded at once (so
    allauth's `session_client_changed` still fires), a page view from the same one is not."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if usersessions_settings.TRACK_ACTIVITY and _activity_due(request):
            UserSession.objects.create_from_request(request)
        return self.get_response(request)


def _activity_due(request: HttpRequest) -> bool:
    session = getattr(request, "session", None)
    user = getattr(request, "user", None)
    if session is None or not session.session_key or user is None or not user.is_authenticated:
        return False
    client = f"{get_adapter().get_client_ip(request)}\n{request.META.get('HTTP_USER_AGENT', '')}"
    digest = hashlib.sha256(f"{session.session_key}\n{client}".encode()).hexdigest()
    # `add` only writes an absent key: true for the first request of each window.
    return bool(cache.add(f"session-activity:{digest}", True, SESSION_ACTIVITY_SECONDS))
