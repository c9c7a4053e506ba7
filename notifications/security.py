"""Security notifications: a sign-in from a browser the trader has not signed in from before."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import signals as auth_signals
from django.dispatch import receiver
from django.http import HttpRequest
from django.urls import reverse

from accounts.audit import client_ip
from accounts.models import AuditAction, AuditEvent, User
from notifications.events import Kind
from notifications.record import notify_after_commit


@receiver(auth_signals.user_logged_in)
def _on_logged_in(request: HttpRequest | None, user: User, **kwargs: Any) -> None:
    """Runs after the audit log's receiver (accounts is installed first), so this sign-in is
    the newest LOGIN event; a device is its browser's user agent."""
    if request is None:
        return
    logins = AuditEvent.objects.filter(actor=user, action=AuditAction.LOGIN)
    this = logins.order_by("-pk").first()
    if this is None or not logins.exclude(pk=this.pk).exists():
        return  # the first sign-in ever is not news
    if logins.exclude(pk=this.pk).filter(user_agent=this.user_agent).exists():
        return
    where = client_ip(request) or "an unknown address"
    notify_after_commit(
        user.pk,
        Kind.NEW_DEVICE_LOGIN,
        f"login:{this.pk}",
        title="Sign-in from a new device",
        body=(
            f"Someone signed in to your account from {where} with a browser not seen before "
            f"({this.user_agent or 'unnamed'}). If it was not you, change your password and "
            "sign out the other sessions."
        ),
        link=reverse("security"),
        payload={"ip_address": where, "user_agent": this.user_agent},
    )
