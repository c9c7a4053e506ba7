"""A request that meets a locked database is tried once more, then told plainly it was not recorded.

SQLite (the embedded shape) has one writer at a time. A writer waits for the lock for
SQLITE_BUSY_TIMEOUT (config/database.py) and then fails with "database is locked". A stop must
never end in a 500 page for that: the view is run once more, and if the lock is still held the
trader reads that nothing was recorded and may try again (a page, or JSON under /api/).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction
from django.db import OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template.loader import render_to_string
from django.utils.http import url_has_allowed_host_and_scheme

from accounts.api.errors import error_body

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 2
BUSY_MESSAGE = "The database is busy; your stop was not recorded, try again."
API_BUSY_MESSAGE = "The database is busy; nothing was recorded. Try again in a few seconds."
_LOCKED = ("database is locked", "database table is locked")

View = Callable[..., HttpResponse]


def is_database_busy(exc: BaseException) -> bool:
    return isinstance(exc, OperationalError) and any(text in str(exc) for text in _LOCKED)


class DatabaseBusyMiddleware:
    """Last in MIDDLEWARE: every other middleware's process_view (CSRF included) has run when
    this one calls the view itself, so the view is the only thing it runs twice."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: View, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> HttpResponse | None:
        if iscoroutinefunction(view):
            return None  # Django awaits it; none of ours writes that way
        for attempt in (1, 2):
            try:
                return view(request, *args, **kwargs)
            except OperationalError as exc:
                if not is_database_busy(exc):
                    raise
                logger.warning(
                    "%s %s met a locked database (attempt %d).", request.method, request.path, attempt
                )
        return busy_response(request)


def busy_response(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(error_body("database_busy", API_BUSY_MESSAGE), status=503)
    else:
        back = request.get_full_path() if request.method == "GET" else _referer_here(request)
        body = render_to_string(
            "busy.html", {"message": BUSY_MESSAGE, "back": back, "method": request.method}
        )
        response = HttpResponse(body, status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response


def _referer_here(request: HttpRequest) -> str:
    """The page the form was sent from, if it is one of ours."""
    referer = request.headers.get("Referer", "")
    here = url_has_allowed_host_and_scheme(referer, {request.get_host()}, request.is_secure())
    return referer if referer and here else "/"
