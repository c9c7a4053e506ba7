"""A new account's trial is opened as it signs up, so staff see it from the first minute."""

from __future__ import annotations

from typing import Any

from allauth.account import signals as allauth_signals
from django.dispatch import receiver
from django.http import HttpRequest

from billing import entitlements


@receiver(allauth_signals.user_signed_up)
def _open_trial(request: HttpRequest, user: Any, **kwargs: Any) -> None:
    entitlements.subscription_for(user)
