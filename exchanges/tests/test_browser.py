"""A trader on a phone connects a paper account; the pages fit a 390-px screen."""

from __future__ import annotations

from pathlib import Path

import pytest

from accounts.tests.factories import PASSWORD, make_user
from exchanges.models import ExchangeAccount

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_connect_a_paper_account_on_a_phone(live_server, browser, artifacts: Path) -> None:
    trader = make_user(email="phone.trader@example.com")
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.get_by_label("Email").fill(trader.email)
    page.get_by_label("Password:", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Sign In").click()

    page.get_by_role("link", name="Exchanges").click()
    assert page.get_by_text("No exchange accounts yet").is_visible()
    assert fits_the_screen(page)
    page.get_by_role("link", name="Add an exchange account").click()

    page.get_by_label("Exchange").select_option(label="Bybit · Testnet")
    assert page.get_by_label("API secret").is_visible()
    assert not page.get_by_label("Base URL").is_visible()
    page.get_by_label("Exchange").select_option(label="Bybit · Custom URL")
    assert page.get_by_label("Base URL").is_visible()
    page.get_by_label("Exchange").select_option(label="Paper trading")
    assert not page.get_by_label("API secret").is_visible()
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "exchange-account-add-phone.png", full_page=True)

    page.get_by_label("Label").fill("Practice")
    page.get_by_role("button", name="Check and connect").click()
    page.wait_for_url(f"{live_server.url}/exchange-accounts/*/")
    assert page.get_by_text("“Practice” is connected.").is_visible()
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "exchange-account-detail-phone.png", full_page=True)
    context.close()

    assert ExchangeAccount.objects.get(owner=trader).label == "Practice"
