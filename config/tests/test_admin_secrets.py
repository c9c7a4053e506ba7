"""No admin page shows a secret: second-factor keys and backup codes, session keys, exchange API
secrets, API tokens, webhook secrets or password hashes."""

from __future__ import annotations

import base64

import pytest
from allauth.usersessions.models import UserSession
from django.contrib import admin
from django.test import Client
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import twofactor
from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in, totp_code
from accounts.tokens import do_create_token
from bots.webhooks.actions import do_create_endpoint
from bots.webhooks.models import signing_secrets
from exchanges.tests.factories import API_KEY, API_SECRET, make_bybit_account

pytestmark = pytest.mark.django_db


def every_admin_page(client: Client) -> dict[str, str]:
    pages: dict[str, str] = {}
    for model in admin.site._registry:
        info = (model._meta.app_label, model._meta.model_name)
        url = reverse("admin:{}_{}_changelist".format(*info))
        pages[url] = client.get(url).content.decode()
        for pk in model._default_manager.values_list("pk", flat=True)[:5]:
            url = reverse("admin:{}_{}_change".format(*info), args=[pk])
            pages[url] = client.get(url).content.decode()
    return pages


def test_no_admin_page_shows_a_secret() -> None:
    staff = make_user(email="ops@example.com", is_staff=True, is_superuser=True)
    device = twofactor.pending_totp_device(staff)
    backup_codes = twofactor.enable_two_factor(device)
    client = Client()
    sign_in(client, staff.email)
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(device)})
    trader = make_user(email="trader@example.com")
    make_bybit_account(trader)
    token = do_create_token(trader, "script", ["read"]).plaintext
    endpoint = do_create_endpoint(trader, url="https://hooks.example.com/x", events=["order.filled"])
    staff.refresh_from_db()
    sessions = list(UserSession.objects.filter(user=staff).values_list("session_key", flat=True))
    device = TOTPDevice.objects.get(pk=device.pk)
    secrets = {
        "TOTP key": device.key,
        "TOTP key (base32)": base64.b32encode(device.bin_key).decode().rstrip("="),
        "exchange API secret": API_SECRET,
        "exchange API key": API_KEY,
        "API token": token,
        "password hash": staff.password.split("$")[-1],
        "session key": client.session.session_key,
        **{f"recorded session key {n}": key for n, key in enumerate(sessions)},
        **{f"backup code {n}": code for n, code in enumerate(backup_codes)},
        **{f"webhook secret {n}": secret for n, secret in enumerate(signing_secrets(endpoint))},
    }
    assert sessions

    pages = every_admin_page(client)

    assert len(pages) > 20
    assert all("Gridwise staff" in html for html in pages.values())
    leaks = [(url, name) for url, html in pages.items() for name, secret in secrets.items() if secret in html]
    assert leaks == []
