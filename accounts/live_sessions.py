"""A signed-in session's open sockets end with it.

Every live socket joins a channel-layer group of its session. Signing out, "sign out other
sessions" and a password change message those groups, and each socket closes at once (code
4401, signed out). A session that ends without a signal (expiry, a store flushed, a password
changed from a shell) is caught by `session_is_live`, which sockets re-check before they render.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Iterable
from importlib import import_module
from typing import Any

from allauth.account import signals as allauth_signals
from allauth.usersessions.models import UserSession
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY, get_user_model
from django.contrib.auth import signals as auth_signals
from django.contrib.sessions.backends.base import SessionBase
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.http import HttpRequest

logger = logging.getLogger(__name__)

SESSION_ENDED = "session.ended"


def session_group(session_key: str) -> str:
    """The group of one session's sockets; hashed, so no session key is written to Redis."""
    digest = hashlib.sha256(f"live-session:{session_key}".encode()).hexdigest()[:40]
    return f"session.{digest}"


def end_live_sessions(session_keys: Iterable[str]) -> None:
    """Close every socket opened with these sessions."""
    layer = get_channel_layer()
    if layer is None:
        return
    for key in {key for key in session_keys if key}:
        try:
            async_to_sync(layer.group_send)(session_group(key), {"type": SESSION_ENDED})
        except Exception:
            # Sockets still close at their next re-check; a sign-out must never fail here.
            logger.exception("Could not tell a session's live sockets that it ended.")


def _store(session_key: str) -> SessionBase:
    engine = import_module(settings.SESSION_ENGINE)
    return engine.SessionStore(session_key)


def session_is_live(session_key: str | None, user_id: Any) -> bool:
    """Whether the session still exists, belongs to this user, and outlived no password change
    (Django's session hash, as its own request authentication checks it)."""
    if not session_key:
        return False
    store = _store(session_key)
    if not store.exists(session_key):
        return False
    data = store.load()
    if str(data.get(SESSION_KEY)) != str(user_id) or BACKEND_SESSION_KEY not in data:
        return False
    user = get_user_model().objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    stored_hash = str(data.get(HASH_SESSION_KEY, ""))
    return hmac.compare_digest(stored_hash, user.get_session_auth_hash())


def _current_key(request: HttpRequest | None) -> str | None:
    session = getattr(request, "session", None)
    return session.session_key if session is not None else None


@receiver(auth_signals.user_logged_out)
def _on_logged_out(request: HttpRequest | None, **kwargs: Any) -> None:
    key = _current_key(request)  # Django sends the signal before it flushes the session
    if key:
        end_live_sessions([key])


@receiver(post_delete, sender=UserSession)
def _on_user_session_ended(instance: UserSession, **kwargs: Any) -> None:
    """allauth ends a session ("sign out other sessions", an expired one purged) by deleting it."""
    end_live_sessions([instance.session_key])


@receiver(allauth_signals.password_changed)
@receiver(allauth_signals.password_set)
@receiver(allauth_signals.password_reset)
def _on_password_changed(request: HttpRequest | None, user: Any, **kwargs: Any) -> None:
    """A new password signs out every other session (their session hash no longer matches);
    the one that changed it keeps going under its new key."""
    current = _current_key(request)
    keys = UserSession.objects.filter(user=user).exclude(session_key=current or "")
    end_live_sessions(keys.values_list("session_key", flat=True))
