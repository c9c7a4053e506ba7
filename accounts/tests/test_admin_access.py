"""The staff admin signs in only through the site's own login: its rate limits and its second
factor. The admin's own form never takes, let alone confirms, a password."""

from __future__ import annotations

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import twofactor
from accounts.models import User
from accounts.tests.factories import PASSWORD, make_user
from accounts.tests.helpers import session_user_id, totp_code

pytestmark = pytest.mark.django_db

SITE_LOGIN = "/accounts/login/?next=%2Fadmin%2F"


@pytest.fixture
def staff() -> User:
    return make_user(email="staff@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def device(staff: User) -> TOTPDevice:
    device = twofactor.pending_totp_device(staff)
    twofactor.enable_two_factor(device)
    return device


def test_the_admin_sends_visitors_to_the_sites_login(client: Client) -> None:
    first = client.get("/admin/")
    assert first.status_code == 302
    login = client.get(first["Location"])
    assert login.status_code == 302
    assert login["Location"] == SITE_LOGIN
    assert client.get("/admin/login/?next=/admin/accounts/user/")["Location"] == (
        "/accounts/login/?next=%2Fadmin%2Faccounts%2Fuser%2F"
    )
    # Only admin pages are kept as the destination.
    assert client.get("/admin/login/?next=https://evil.example/admin/")["Location"] == SITE_LOGIN
    assert client.get("/admin/login/?next=/bots/")["Location"] == SITE_LOGIN


def test_the_admin_form_never_tells_a_right_password_from_a_wrong_one(
    client: Client, staff: User, device: TOTPDevice
) -> None:
    answers = []
    for password in (PASSWORD, "not-the-password"):
        response = client.post("/admin/login/?next=/admin/", {"username": staff.email, "password": password})
        answers.append((response.status_code, response["Location"], response.content))
        assert session_user_id(client) is None
        assert b"OTP" not in response.content
        assert device.persistent_id.encode() not in response.content
    assert answers[0] == answers[1] == (302, SITE_LOGIN, b"")
    # The old form's fields with a valid code open nothing either.
    client.post(
        "/admin/login/?next=/admin/",
        {
            "username": staff.email,
            "password": PASSWORD,
            "otp_device": device.persistent_id,
            "otp_token": totp_code(device),
        },
    )
    assert session_user_id(client) is None
    assert client.get("/admin/").status_code == 302


def test_staff_sign_in_with_their_code_and_land_in_the_admin(
    client: Client, staff: User, device: TOTPDevice
) -> None:
    signed = client.post(SITE_LOGIN, {"login": staff.email, "password": PASSWORD})
    assert signed.status_code == 302
    assert signed["Location"] == "/accounts/2fa/authenticate/"
    assert client.get("/admin/").status_code == 302, "not before the second factor"

    verified = client.post("/accounts/2fa/authenticate/", {"code": totp_code(device)})
    assert verified["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_the_sites_lockout_guards_the_admin_too(client: Client, staff: User, settings) -> None:
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "login_failed": "3/5m/key"}
    for _ in range(3):
        client.post(SITE_LOGIN, {"login": staff.email, "password": "guess"})
    locked = client.post(SITE_LOGIN, {"login": staff.email, "password": PASSWORD})
    assert "Too many failed login attempts" in locked.content.decode()
    assert session_user_id(client) is None


def test_staff_without_a_second_factor_are_told_how_to_set_it_up(client: Client, staff: User) -> None:
    client.post(SITE_LOGIN, {"login": staff.email, "password": PASSWORD})
    assert session_user_id(client) == str(staff.pk)

    page = client.get("/admin/", follow=True)
    assert page.status_code == 403
    html = page.content.decode()
    assert "Turn on two-factor authentication first" in html
    assert 'href="/account/security/2fa/setup/"' in html

    device = twofactor.pending_totp_device(staff)
    setup = client.post("/account/security/2fa/setup/", {"code": totp_code(device)})
    assert setup.status_code == 200
    assert client.get("/admin/").status_code == 200, "the code just confirmed opens the admin"


def test_staff_with_a_device_but_an_unverified_session_sign_in_again(
    client: Client, staff: User, device: TOTPDevice
) -> None:
    client.force_login(staff)
    page = client.get("/admin/login/?next=/admin/")
    assert page.status_code == 403
    assert "Sign in again with your code" in page.content.decode()


def test_other_traders_are_refused(client: Client) -> None:
    trader = make_user(email="trader@example.com")
    client.force_login(trader)
    page = client.get("/admin/", follow=True)
    assert page.status_code == 403
    assert "This area is for Gridwise staff" in page.content.decode()
    assert "two-factor" not in page.content.decode()
