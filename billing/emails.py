"""Billing's own emails: a failed payment, and a bot stopped because the plan shrank.

They are about the account's money and its running bots, so they go out whatever the
trader's notification settings (and carry no unsubscribe link). Each is sent after the
change that caused it has committed; a mail server that is down is logged, not raised into
the webhook or the beat task that made the change.
"""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.template.loader import render_to_string
from django.urls import reverse

from billing.models import FailedPayment

logger = logging.getLogger(__name__)

DEFAULT_EMAIL_TIMEOUT = 30.0  # as notifications: a hung mail server must not hold a worker


def _absolute(path: str) -> str:
    return str(settings.NOTIFICATIONS_SITE_URL).rstrip("/") + path


def _send(user: Any, subject: str, template: str, context: dict[str, Any]) -> None:
    if not user.email:
        logger.warning("User %s has no email address; billing email %s not sent.", user.pk, template)
        return
    context = {**context, "billing_url": _absolute(reverse("billing")), "user": user}
    message = EmailMultiAlternatives(
        subject=f"{settings.ACCOUNT_EMAIL_SUBJECT_PREFIX}{subject}",
        body=render_to_string(f"billing/email/{template}.txt", context),
        to=[user.email],
        connection=get_connection(timeout=settings.EMAIL_TIMEOUT or DEFAULT_EMAIL_TIMEOUT),
    )
    message.attach_alternative(render_to_string(f"billing/email/{template}.html", context), "text/html")
    try:
        message.send()
    except Exception:
        logger.exception("Could not send the %s email to user %s.", template, user.pk)


def send_payment_failed(user_id: int, failure_id: int) -> None:
    from billing.lifecycle import payment_notice

    failure = FailedPayment.objects.select_related("subscription__user").filter(pk=failure_id).first()
    if failure is None:
        return
    notice = payment_notice(failure.subscription, failure)
    _send(failure.subscription.user, notice.headline, "payment_failed", {"notice": notice})


def send_bot_stopped(user_id: int, bot_id: int, sentence: str) -> None:
    bot = (
        apps.get_model("bots", "Bot")
        .objects.select_related("owner")
        .filter(pk=bot_id, owner_id=user_id)
        .first()
    )
    if bot is None:
        return
    context = {"bot": bot, "sentence": sentence, "bot_url": _absolute(reverse("bot_detail", args=[bot.pk]))}
    _send(bot.owner, f"We stopped “{bot.name}”: your plan changed", "bot_stopped", context)
