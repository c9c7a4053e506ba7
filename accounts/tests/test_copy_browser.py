"""Copy buttons for what is shown only once: a new API token and backup codes."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in_browser, totp_code

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


def clipboard_context(browser, live_server, viewport):
    context = browser.new_context(viewport=viewport, bypass_csp=False)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    return context


def new_token(page, base_url: str) -> str:
    page.goto(f"{base_url}/account/api-tokens/")
    page.get_by_label("Name").fill("rebalance script")
    page.get_by_role("button", name="Create token").click()
    return page.locator("#token-value").inner_text().strip()


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_copy_the_new_api_token(live_server, browser, artifacts: Path, viewport) -> None:
    trader = make_user(email="scripts@example.com")
    context = clipboard_context(browser, live_server, viewport)
    page = sign_in_browser(context.new_page(), live_server.url, trader.email)

    token = new_token(page, live_server.url)
    button = page.get_by_role("button", name="Copy token")
    button.click()
    expect(page.locator(".copy-button")).to_have_attribute("data-copy-state", "copied")
    label = page.locator(".copy-button").inner_text()
    page.screenshot(path=artifacts / f"api-token-copied-{viewport['width']}.png", full_page=True)
    copied = page.evaluate("navigator.clipboard.readText()")
    context.close()

    assert len(token) > 20
    assert copied == token
    assert label == "Copied"


def test_without_the_clipboard_api_the_token_is_selected(live_server, browser) -> None:
    trader = make_user(email="old.browser@example.com")
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    page = sign_in_browser(context.new_page(), live_server.url, trader.email)

    token = new_token(page, live_server.url)
    page.get_by_role("button", name="Copy token").click()
    expect(page.locator(".copy-button")).to_have_attribute("data-copy-state", re.compile("."))
    label = page.locator(".copy-button").inner_text()
    selected = page.evaluate("window.getSelection().toString()").strip()
    context.close()

    assert selected == token
    assert label in ("Copied", "Selected: press Ctrl+C")


def test_copy_the_backup_codes(live_server, browser, artifacts: Path) -> None:
    trader = make_user(email="careful@example.com")
    context = clipboard_context(browser, live_server, PHONE)
    page = sign_in_browser(context.new_page(), live_server.url, trader.email)

    page.goto(f"{live_server.url}/account/security/2fa/setup/")
    device = TOTPDevice.objects.get(user=trader)
    page.get_by_label("Code from your app").fill(totp_code(device))
    page.get_by_role("button", name="Turn on two-factor").click()
    shown = page.get_by_test_id("backup-codes").locator("code").all_inner_texts()
    page.get_by_role("button", name="Copy codes").click()
    expect(page.locator(".copy-button")).to_have_attribute("data-copy-state", "copied")
    label = page.locator(".copy-button").inner_text()
    page.screenshot(path=artifacts / "backup-codes-copied-390.png", full_page=True)
    copied = page.evaluate("navigator.clipboard.readText()")
    context.close()

    assert len(shown) == 10
    assert copied.split("\n") == shown
    assert label == "Copied"


def test_the_copy_button_is_not_offered_without_javascript(live_server, browser) -> None:
    trader = make_user(email="no.js@example.com")
    context = browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = sign_in_browser(context.new_page(), live_server.url, trader.email)

    token = new_token(page, live_server.url)
    hidden = page.locator(".copy-button").is_hidden()
    context.close()

    assert len(token) > 20
    assert hidden
