"""Writing the audit log: one function, plus the auth signals that feed it."""

from __future__ import annotations

import contextlib
from typing import Any

from allauth.account import signals as allauth_signals
from allauth.account.adapter import get_adapter
from django.contrib.auth import signals as auth_signals
from django.core.exceptions import PermissionDenied
from django.dispatch import receiver
from django.http import HttpRequest

from accounts.models import AuditAction, AuditEvent, User

USER_AGENT_MAX = 512


def client_ip(request: HttpRequest | None) -> str | None:
    if request is None:
        return None
    with contextlib.suppress(PermissionDenied):
        return get_adapter(request).get_client_ip(request)
    return None


def record_event(
    action: str,
    *,
    request: HttpRequest | None = None,
    actor: User | None = None,
    details: dict[str, Any] | None = None,
) -> AuditEvent:
    """Append one event. Later features call this with their own actions."""
    if actor is None and request is not None and request.user.is_authenticated:
        actor = request.user
    user_agent = request.META.get("HTTP_USER_AGENT", "") if request is not None else ""
    return AuditEvent.objects.create(
        actor=actor,
        actor_email=actor.email if actor else "",
        action=action,
        ip_address=client_ip(request),
        user_agent=user_agent[:USER_AGENT_MAX],
        details=details or {},
    )


@receiver(allauth_signals.user_signed_up)
def _on_signed_up(request: HttpRequest, user: User, **kwargs: Any) -> None:
    record_event(AuditAction.SIGNUP, request=request, actor=user)


@receiver(allauth_signals.email_confirmed)
def _on_email_confirmed(request: HttpRequest, email_address: Any, **kwargs: Any) -> None:
    record_event(
        AuditAction.EMAIL_CONFIRMED,
        request=request,
        actor=email_address.user,
        details={"email": email_address.email},
    )


@receiver(auth_signals.user_logged_in)
def _on_logged_in(request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    record_event(AuditAction.LOGIN, request=request, actor=user)


@receiver(auth_signals.user_logged_out)
def _on_logged_out(request: HttpRequest | None, user: User | None, **kwargs: Any) -> None:
    if user is not None:
        record_event(AuditAction.LOGOUT, request=request, actor=user)


@receiver(auth_signals.user_login_failed)
def _on_login_failed(credentials: dict[str, Any], request: HttpRequest | None = None, **kwargs: Any) -> None:
    # Django has already scrubbed the password from `credentials`.
    email = str(credentials.get("email") or credentials.get("username") or "").lower()
    record_failed_login(request, email=email, reason="bad_password")


def record_failed_login(request: HttpRequest | None, *, email: str, reason: str) -> None:
    actor = User.objects.filter(email=email).first() if email else None
    record_event(
        AuditAction.LOGIN_FAILED, request=request, actor=actor, details={"email": email, "reason": reason}
    )


@receiver(allauth_signals.password_changed)
def _on_password_changed(request: HttpRequest, user: User, **kwargs: Any) -> None:
    record_event(AuditAction.PASSWORD_CHANGED, request=request, actor=user)


@receiver(allauth_signals.password_set)
def _on_password_set(request: HttpRequest, user: User, **kwargs: Any) -> None:
    record_event(AuditAction.PASSWORD_CHANGED, request=request, actor=user, details={"first_password": True})


@receiver(allauth_signals.password_reset)
def _on_password_reset(request: HttpRequest, user: User, **kwargs: Any) -> None:
    record_event(AuditAction.PASSWORD_RESET, request=request, actor=user)
