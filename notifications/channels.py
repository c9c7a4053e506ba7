"""Sending one delivery on its channel. A sender raises on failure; the task retries it."""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable

from allauth.account.models import EmailAddress
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse
from telegram.error import Forbidden, RetryAfter
from telegram.warnings import PTBDeprecationWarning

from notifications import preferences
from notifications.events import Channel, Kind, Mode
from notifications.live import push_unread
from notifications.models import Delivery, Notification, TelegramLink
from notifications.unsubscribe import token_for

# Django waits for a mail server forever unless EMAIL_TIMEOUT says otherwise; a hung server
# would hold a delivery worker (and the delivery's row lock) with it.
DEFAULT_EMAIL_TIMEOUT = 30.0
TELEGRAM_TEXT_LIMIT = 4096  # the Bot API's longest message


class NotDeliverable(Exception):
    """Retrying cannot help (no address to send to)."""


class RetryLater(Exception):
    """Not sent, and not to be tried again before `seconds` (Telegram's 429 `retry_after`, or
    our own share of its rate limit). A wait for our limiter costs the delivery no attempt."""

    def __init__(self, message: str, seconds: float, *, counts_as_attempt: bool = True) -> None:
        super().__init__(message)
        self.seconds = seconds
        self.counts_as_attempt = counts_as_attempt


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


def telegram_text(notification: Notification) -> str:
    parts = [notification.title, notification.body, absolute(notification.link) if notification.link else ""]
    return "\n".join(part for part in parts if part)[:TELEGRAM_TEXT_LIMIT]


def send_telegram(delivery: Delivery) -> None:
    """One message to the trader's linked chat; a silent cell sends it without a sound."""
    from notifications.telegram import client, limits

    notification = delivery.notification
    if not client.is_configured():
        raise NotDeliverable("Telegram is not set up on this server.")
    link = TelegramLink.objects.filter(user_id=notification.user_id).first()
    if link is None:
        raise NotDeliverable("No Telegram chat is linked.")
    mode = preferences.matrix_for(notification.user_id).get((notification.kind, Channel.TELEGRAM))
    taken, wait = limits.reserve(link.chat_id)
    if not taken:
        raise RetryLater(f"Telegram rate limit: next slot in {wait:.1f} s", wait, counts_as_attempt=False)
    if wait:
        time.sleep(wait)  # at most a second: the slot is ours
    text = telegram_text(notification)
    try:
        client.call(
            lambda bot: bot.send_message(link.chat_id, text, disable_notification=mode == Mode.SILENT)
        )
    except RetryAfter as flood:
        with warnings.catch_warnings():  # its type changes in a later major version: both are read
            warnings.simplefilter("ignore", PTBDeprecationWarning)
            seconds = client.seconds(flood.retry_after)
        raise RetryLater(f"Telegram asked to retry after {seconds:g} s", seconds) from flood
    except Forbidden as blocked:
        raise NotDeliverable(f"Telegram refused the chat: {blocked.message}") from blocked


SENDERS: dict[str, Callable[[Delivery], None]] = {
    Channel.IN_APP: send_in_app,
    Channel.EMAIL: send_email,
    Channel.TELEGRAM: send_telegram,
}
