"""Subscribing with Stripe's test card in Debian's chromium, against localstripe, policy enforced."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in_browser
from billing.models import Subscription, SubscriptionStatus
from billing.stripe_server import LocalStripe

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

WIDTHS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


@pytest.mark.parametrize("name", list(WIDTHS))
def test_subscribe_with_the_test_card_and_cancel(
    live_server, browser, artifacts: Path, stripe_server: LocalStripe, settings, name: str
) -> None:
    settings.BILLING_CHECKOUT = "card"
    user = make_user(email=f"card-{name}@example.com")
    context = browser.new_context(viewport=WIDTHS[name], bypass_csp=False)
    page = context.new_page()
    refused: list[str] = []
    page.on("console", lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None)
    sign_in_browser(page, live_server.url, user.email)
    page.goto(f"{live_server.url}/pricing/")
    page.get_by_role("link", name="Subscribe to Pro").click()
    page.get_by_label("Card number").fill("4242 4242 4242 4242")
    page.get_by_label("Expiry (MM/YY)").fill("12/34")
    page.get_by_label("CVC").fill("123")
    page.screenshot(path=artifacts / f"stripe-card-{name}.png", full_page=True)
    page.get_by_role("button", name="Pay $99 and subscribe").click()
    page.wait_for_url(f"{live_server.url}/account/billing/")
    expect(page.get_by_text("You are subscribed to Pro.")).to_be_visible()
    expect(page.get_by_text("ending in 4242")).to_be_visible()
    page.screenshot(path=artifacts / f"stripe-billing-{name}.png", full_page=True)
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTHS[name]["width"]
    page.get_by_role("button", name="Cancel at period end").click()
    page.wait_for_url(f"{live_server.url}/account/billing/")
    expect(page.get_by_role("button", name="Resume subscription")).to_be_visible()
    subscription = Subscription.objects.get(user=user)
    assert (subscription.status, subscription.cancel_at_period_end) == (SubscriptionStatus.ACTIVE, True)
    assert refused == []
    context.close()
