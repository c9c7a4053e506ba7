"""A real person's first visit, in Debian's chromium: sign up, verify, enrol 2FA."""

from __future__ import annotations

import base64
import re
import time
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from accounts.models import User
from accounts.tests.helpers import last_confirmation_path

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EMAIL = "browser.trader@example.com"
PASSWORD = "grids-all-the-way-down-9"
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


def code_from_secret(secret_text: str, steps_ahead: int = 0) -> str:
    """What an authenticator app shows after the user types in the manual key."""
    secret = secret_text.replace(" ", "")
    key = base64.b32decode(secret + "=" * (-len(secret) % 8))
    generator = TOTP(key)
    generator.time = time.time() + steps_ahead * 30
    return f"{generator.token():06d}"


def test_sign_up_verify_and_enrol_two_factor(live_server, browser, artifacts: Path) -> None:
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()

    page.goto(f"{live_server.url}/")
    page.get_by_role("link", name="Create a free account").click()
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_label("Password (again):").fill(PASSWORD)
    page.screenshot(path=artifacts / "signup-phone.png", full_page=True)
    page.get_by_role("button", name="Sign Up").click()
    page.wait_for_url(re.compile(r"/accounts/confirm-email/$|/$"))

    page.goto(f"{live_server.url}{last_confirmation_path()}")
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_load_state()

    page.goto(f"{live_server.url}/account/security/")
    page.get_by_role("link", name="Set up two-factor authentication").click()
    page.get_by_text("Can't scan? Enter this key instead").click()
    secret = page.get_by_test_id("totp-secret").inner_text()
    page.screenshot(path=artifacts / "two-factor-setup-phone.png", full_page=True)
    page.get_by_label("Code from your app").fill(code_from_secret(secret))
    page.get_by_role("button", name="Turn on two-factor").click()

    codes = page.get_by_test_id("backup-codes").locator("code").all_inner_texts()
    assert len(codes) == 10
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=artifacts / "backup-codes-desktop.png", full_page=True)
    context.close()

    user = User.objects.get(email=EMAIL)
    assert TOTPDevice.objects.get(user=user).confirmed
    assert EmailAddress.objects.get(user=user).verified

    # A fresh browser now needs the second factor.
    second = browser.new_context(viewport=DESKTOP)
    page = second.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(EMAIL)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()
    page.wait_for_url(re.compile(r"/accounts/2fa/authenticate/$"))
    page.get_by_label("Authenticator or backup code").fill(codes[0])
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_role("heading", name="Welcome")).to_be_visible()
    page.screenshot(path=artifacts / "dashboard-desktop.png", full_page=True)
    second.close()


def test_staff_without_two_factor_are_shown_the_way_into_the_admin(
    live_server, browser, artifacts: Path
) -> None:
    from accounts.tests.factories import PASSWORD as STAFF_PASSWORD
    from accounts.tests.factories import make_user
    from accounts.tests.helpers import sign_in_browser

    staff = make_user(email="staff.browser@example.com", is_staff=True, is_superuser=True)
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport)
        page = context.new_page()
        page.goto(f"{live_server.url}/admin/")
        assert "/accounts/login/?next=%2Fadmin%2F" in page.url
        sign_in_browser(page, live_server.url, staff.email, STAFF_PASSWORD)
        page.goto(f"{live_server.url}/admin/")
        expect(page.get_by_role("heading", name="Turn on two-factor authentication first")).to_be_visible()
        page.screenshot(path=artifacts / f"admin-needs-two-factor-{name}.png", full_page=True)
        page.get_by_role("link", name="Set up two-factor authentication").click()
        page.wait_for_url(f"{live_server.url}/account/security/2fa/setup/")
        context.close()
