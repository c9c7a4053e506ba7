"""Account emails speak as the product, never as the host and port the request came in on."""

from __future__ import annotations

import re
from pathlib import Path

import allauth
import pytest
from allauth.account.adapter import get_adapter
from allauth.core.context import request_context
from django.core import mail
from django.core.mail import EmailMessage
from django.test import Client, RequestFactory

from accounts.tests.factories import PASSWORD, make_user

HOST = "127.0.0.1:18100"
ALLAUTH_EMAILS = Path(allauth.__file__).parent / "templates" / "account" / "email"


def without_links(text: str) -> str:
    """The text a person reads; a link has to name the host it leads to."""
    return re.sub(r"https?://\S+", "<link>", text)


def assert_speaks_as_gridwise(message: EmailMessage) -> None:
    body = str(message.body)
    assert HOST not in message.subject, message.subject
    assert "127.0.0.1" not in without_links(body), body
    assert "Gridwise" in message.subject, message.subject
    assert "Hello from Gridwise!" in body, body
    assert "Thank you for using Gridwise" in body, body


def test_the_sign_up_email_names_gridwise(db: None) -> None:
    client = Client(HTTP_HOST=HOST)

    form = {"email": "new@example.com", "password1": PASSWORD, "password2": PASSWORD}
    client.post("/accounts/signup/", form)

    (message,) = mail.outbox
    assert_speaks_as_gridwise(message)
    assert "a Gridwise account" in str(message.body)
    assert f"http://{HOST}/accounts/confirm-email/" in str(message.body)


def test_the_password_reset_email_names_gridwise(db: None) -> None:
    trader = make_user(email="forgetful@example.com")
    client = Client(HTTP_HOST=HOST)

    client.post("/accounts/password/reset/", {"email": trader.email})

    (message,) = mail.outbox
    assert_speaks_as_gridwise(message)
    assert f"http://{HOST}/accounts/password/reset/key/" in str(message.body)
    assert PASSWORD not in str(message.body)


@pytest.mark.parametrize(
    "prefix", sorted(path.name.removesuffix("_subject.txt") for path in ALLAUTH_EMAILS.glob("*_subject.txt"))
)
def test_every_account_email_names_gridwise(db: None, prefix: str) -> None:
    trader = make_user(email="every@example.com")
    request = RequestFactory().get("/", HTTP_HOST=HOST)
    request.user = trader
    context = {
        "user": trader,
        "code": "ABC123",
        "activate_url": f"http://{HOST}/accounts/confirm-email/key/",
        "password_reset_url": f"http://{HOST}/accounts/password/reset/key/x/",
        "signup_url": f"http://{HOST}/accounts/signup/",
        "from_email": "old@example.com",
        "to_email": "new@example.com",
        "deleted_email": "old@example.com",
        "ip": "203.0.113.9",
        "user_agent": "TestPhone",
    }

    with request_context(request):
        get_adapter(request).send_mail(f"account/email/{prefix}", trader.email, context)

    (message,) = mail.outbox
    assert_speaks_as_gridwise(message)
