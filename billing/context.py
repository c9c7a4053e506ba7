"""The failed-payment banner, on every page a signed-in trader sees while their plan is past due."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest

from billing.lifecycle import PaymentNotice, payment_notice
from billing.models import Subscription, SubscriptionStatus


def notice_for(user_id: int) -> PaymentNotice | None:
    subscription = (
        Subscription.objects.select_related("user")
        .filter(user_id=user_id, status=SubscriptionStatus.PAST_DUE)
        .first()
    )
    if subscription is None:
        return None
    return payment_notice(subscription, subscription.failed_payments.first())


def payment_banner(request: HttpRequest) -> dict[str, Callable[[], PaymentNotice | None]]:
    """Asked only by a page that shows it (templates call callables); quiet for visitors."""
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    user_id = user.pk
    return {"payment_banner": lambda: notice_for(user_id)}
