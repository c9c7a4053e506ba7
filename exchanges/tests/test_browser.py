"""A trader on a phone connects a paper account; the pages fit a 390-px screen."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import PASSWORD, make_user
from accounts.tests.helpers import sign_in_browser
from exchanges.models import CheckOutcome, ExchangeAccount
from exchanges.tests.factories import make_bybit_account

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
    expect(page.get_by_text("No exchange accounts yet")).to_be_visible()
    assert fits_the_screen(page)
    page.get_by_role("link", name="Add an exchange account").click()

    page.get_by_label("Exchange").select_option(label="Bybit · Testnet")
    expect(page.get_by_label("API secret")).to_be_visible()
    expect(page.get_by_label("Base URL")).to_be_hidden()
    page.get_by_label("Exchange").select_option(label="Bybit · Custom URL")
    expect(page.get_by_label("Base URL")).to_be_visible()
    page.get_by_label("Exchange").select_option(label="Paper trading")
    expect(page.get_by_label("API secret")).to_be_hidden()
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "exchange-account-add-phone.png", full_page=True)

    page.get_by_label("Label").fill("Practice")
    page.get_by_role("button", name="Check and connect").click()
    page.wait_for_url(f"{live_server.url}/exchange-accounts/*/")
    expect(page.get_by_text("“Practice” is connected.")).to_be_visible()
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "exchange-account-detail-phone.png", full_page=True)
    context.close()

    assert ExchangeAccount.objects.get(owner=trader).label == "Practice"


@pytest.mark.parametrize("viewport", [PHONE, {"width": 1280, "height": 860}], ids=["phone", "desktop"])
def test_last_check_reads_on_a_line_or_two(live_server, browser, artifacts: Path, viewport) -> None:
    trader = make_user(email="list.trader@example.com")
    warned = make_bybit_account(trader, label="Bybit with a rather long label for a phone")
    warned.record_check(CheckOutcome.OK, ["Withdrawals are enabled on this key."])
    warned.last_checked_at = timezone.now() - timedelta(seconds=42)
    warned.save()
    plain = make_bybit_account(trader, label="Bybit spare", api_key="AbCdEfGhIjKlMnOpQr")
    ExchangeAccount.objects.filter(pk=plain.pk).update(last_checked_at=timezone.now() - timedelta(hours=3))
    context = browser.new_context(viewport=viewport)
    page = context.new_page()
    sign_in_browser(page, live_server.url, trader.email)

    page.goto(f"{live_server.url}/exchange-accounts/")
    page.screenshot(path=artifacts / f"exchange-accounts-{viewport['width']}.png", full_page=True)
    checks = page.locator("td[data-label='Last check']").evaluate_all(
        """cells => cells.map(cell => {
            const time = cell.querySelector('time');
            const line = parseFloat(getComputedStyle(time).lineHeight);
            return {text: cell.innerText, lines: time.getBoundingClientRect().height / line,
                    height: cell.getBoundingClientRect().height, line};
        })"""
    )
    fits = fits_the_screen(page)
    context.close()

    assert len(checks) == 2
    texts = [check["text"].replace("\xa0", " ") for check in checks]
    assert any(text.endswith("seconds ago") for text in texts), texts
    for check in checks:
        assert check["lines"] <= 2.05, check
        assert check["height"] <= 3 * check["line"], check
    assert fits
