"""Sending one delivery on its channel. A sender raises on failure; the task retries it."""

from __future__ import annotations

from collections.abc import Callable

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from notifications.events import Channel, Kind
from notifications.live import push_unread
from notifications.models import Delivery
from notifications.unsubscribe import token_for

# Django waits for a mail server forever unless EMAIL_TIMEOUT says otherwise; a hung server
# would hold a delivery worker (and the delivery's row lock) with it.
DEFAULT_EMAIL_TIMEOUT = 30.0


class NotDeliverable(Exception):
    """Retrying cannot help (no address to send to)."""


def send_in_app(delivery: Delivery) -> None:
    push_unread(delivery.notification.user_id)


def absolute(path: str) -> str:
    return settings.NOTIFICATIONS_SITE_URL.rstrip("/") + path


def email_templates(kind: str, extension: str) -> list[str]:
    """A kind's own mail template (e.g. the daily summary's table) if it has one, else the common one."""
    return [
        f"notifications/email/{kind.replace('.', '_')}.{extension}",
        f"notifications/email/event.{extension}",
    ]


def send_email(delivery: Delivery) -> None:
    notification = delivery.notification
    user = notification.user
    if not user.email:
        raise NotDeliverable("The account has no email address.")
    # Alerts go only to an address its owner confirmed: a sign-up with someone else's address
    # must not turn Gridwise into a way to flood that inbox.
    if not EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists():
        raise NotDeliverable("The account's email address is not verified.")
    unsubscribe_url = absolute(
        reverse("notification_unsubscribe", args=[token_for(user.pk, notification.kind)])
    )
    context = {
        "notification": notification,
        "kind_label": Kind(notification.kind).label,
        "link": absolute(notification.link) if notification.link else "",
        "settings_url": absolute(reverse("notification_settings")),
        "unsubscribe_url": unsubscribe_url,
    }
    message = EmailMultiAlternatives(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{notification.title}",
        body=render_to_string(email_templates(notification.kind, "txt"), context),
        to=[user.email],
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT or DEFAULT_EMAIL_TIMEOUT),
        headers={
            # RFC 8058: mail clients offer their own one-click unsubscribe button.
            "List-Unsubscribe": f"<{unsubscribe_url}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
        },
    )
    message.attach_alternative(
        render_to_string(email_templates(notification.kind, "html"), context), "text/html"
    )
    message.send()


SENDERS: dict[str, Callable[[Delivery], None]] = {
    Channel.IN_APP: send_in_app,
    Channel.EMAIL: send_email,
}
