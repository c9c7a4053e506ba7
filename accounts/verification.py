"""The verified-email gate that features such as exchange keys reuse."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from accounts.models import User

UNVERIFIED_MESSAGE = "Verify your email address first. We can send the link again from this page."


def has_verified_email(user: User) -> bool:
    return EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()


def verified_email_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Send unverified users to their email page with a message that says why."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not has_verified_email(request.user):  # type: ignore[arg-type]
            messages.warning(request, UNVERIFIED_MESSAGE)
            return redirect("account_email")
        return view(request, *args, **kwargs)

    return wrapper
