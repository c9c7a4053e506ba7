"""Telegram's webhook, and linking and unlinking from the notifications settings page."""

from __future__ import annotations

import hmac
import json
import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.shortcuts import redirect
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from telegram import Update

from notifications import actions
from notifications.telegram import client, linking
from notifications.telegram.commands import handle_update

logger = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header's name
SESSION_LINK = "telegram_deep_link"


@csrf_exempt  # Telegram's secret-token header is the authority
@require_POST
def webhook(request: HttpRequest) -> HttpResponse:
    expected = settings.TELEGRAM_WEBHOOK_SECRET
    given = request.headers.get(SECRET_HEADER, "")
    if (
        not expected
        or not client.is_configured()
        or not hmac.compare_digest(given.encode(), expected.encode())
    ):
        return HttpResponseForbidden("Wrong or missing secret token.")
    try:
        data = json.loads(request.body)
        update = Update.de_json(data, None)
    except (ValueError, TypeError, KeyError):
        return HttpResponseBadRequest("Not a Telegram update.")
    if update is None:
        return HttpResponseBadRequest("Not a Telegram update.")
    handle_update(update)
    return HttpResponse(status=200)


@login_required
@require_POST
def link(request: HttpRequest) -> HttpResponse:
    if not client.is_configured():
        messages.error(request, "Telegram is not set up on this server.")
        return redirect("notification_settings")
    token = linking.do_create_token(actions.caller_id(request))
    # Shown once on the next page: only the hash is stored, and the session is the trader's own.
    request.session[SESSION_LINK] = linking.deep_link(token)
    return redirect("notification_settings")


@login_required
@require_POST
def unlink(request: HttpRequest) -> HttpResponse:
    if linking.do_unlink_user(actions.caller_id(request)):
        messages.success(request, "Telegram unlinked: no more notifications go to that chat.")
    return redirect("notification_settings")


def section(request: HttpRequest) -> dict[str, object]:
    """What the settings page's Telegram card shows."""
    user_id = actions.caller_id(request)
    configured = client.is_configured()
    return {
        "configured": configured,
        "link": linking.link_of(user_id) if configured else None,
        "deep_link": request.session.pop(SESSION_LINK, "") if configured else "",
        "ttl_minutes": int(linking.TOKEN_TTL.total_seconds() // 60),
    }
