"""Pricing and billing in Debian's chromium, at desktop and phone widths, with the policy enforced."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in_browser
from billing.tests.helpers import end_trial
from billing.tests.test_limits import bots
from bots.models import BotStatus
from bots.tests.conftest import paper_account_for
from exchanges.paper import market

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("name", list(WIDTHS))
def test_pricing_and_billing_pages(live_server, browser, artifacts: Path, name: str) -> None:
    user = make_user(email=f"pricing-{name}@example.com")
    paper_account_for(user)
    context = browser.new_context(viewport=WIDTHS[name], bypass_csp=False)
    page = context.new_page()
    refused: list[str] = []
    page.on(
        "console",
        lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None,
    )
    page.goto(f"{live_server.url}/pricing/?period=yearly")
    expect(page.get_by_role("heading", name="Plans and pricing")).to_be_visible()
    page.screenshot(path=artifacts / f"pricing-yearly-{name}.png", full_page=True)
    page.get_by_role("link", name="Monthly").click()
    page.wait_for_url("**/pricing/?period=monthly")
    page.screenshot(path=artifacts / f"pricing-monthly-{name}.png", full_page=True)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= WIDTHS[name]["width"], "the pricing page scrolls sideways"

    sign_in_browser(page, live_server.url, user.email)
    page.goto(f"{live_server.url}/account/billing/")
    expect(page.get_by_role("heading", name="Your plan: Pro")).to_be_visible()
    assert page.locator("meter.usage-bar").count() == 4
    page.screenshot(path=artifacts / f"billing-{name}.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[name]["width"]
    page.goto(f"{live_server.url}/account/billing/subscribe/pro/?period=monthly")
    page.screenshot(path=artifacts / f"billing-subscribe-{name}.png", full_page=True)
    assert refused == []
    context.close()


@pytest.mark.parametrize("name", list(WIDTHS))
def test_a_refused_start_says_which_limit_and_links_to_the_plans(
    live_server, browser, artifacts: Path, name: str
) -> None:
    market.set_price("BTCUSDT", Decimal("54000"))
    user = make_user(email=f"refused-{name}@example.com")
    end_trial(user)
    account = paper_account_for(user)
    bots(account, 3)
    (stopped,) = bots(account, 1, BotStatus.STOPPED)
    context = browser.new_context(viewport=WIDTHS[name], bypass_csp=False)
    page = context.new_page()
    sign_in_browser(page, live_server.url, user.email)
    page.goto(f"{live_server.url}/bots/{stopped.pk}/")
    page.get_by_role("button", name="Start", exact=True).click()
    message = page.locator(".message.plan-limit")
    message.wait_for()
    assert (
        "Your Free plan allows 3 paper bots; you have 3. The Starter plan lifts this limit."
        in message.inner_text()
    )
    page.screenshot(path=artifacts / f"plan-limit-refused-{name}.png", full_page=False)
    message.get_by_role("link", name="See plans and upgrade").click()
    page.wait_for_url("**/pricing/")
    assert page.locator("#plan-free .badge").inner_text() == "Your plan"
    context.close()
