"""The exchange account page shows a paper account's balances and feed, on a desktop and a phone."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in_browser
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper.service import open_paper_account

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

VIEWPORTS = {"desktop": {"width": 1280, "height": 900}, "phone": {"width": 390, "height": 844}}


def test_a_paper_account_page_shows_its_balances_and_its_prices(
    live_server, browser, artifacts: Path
) -> None:
    trader = make_user(email="balances.page@example.com")
    account = ExchangeAccount.objects.create(
        owner=trader,
        label="Practice",
        exchange=ExchangeName.PAPER,
        environment=Environment.PAPER,
        paper_account=open_paper_account("practice", {"USDT": Decimal("10000"), "BTC": Decimal("0.125")}),
    )
    for name, viewport in VIEWPORTS.items():
        context = browser.new_context(viewport=viewport)
        page = sign_in_browser(context.new_page(), live_server.url, trader.email)
        page.goto(f"{live_server.url}/exchange-accounts/{account.pk}/")
        expect(page.get_by_text("Paper account · ready")).to_be_visible()
        balances = page.get_by_test_id("balances")
        assert "10,000" in balances.inner_text()
        assert "0.125" in balances.inner_text()
        expect(page.get_by_test_id("paper-feed").first).to_be_visible()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=artifacts / f"exchange-account-balances-{name}.png", full_page=True)
        page.goto(f"{live_server.url}/exchange-accounts/")
        page.get_by_test_id("row-balances").get_by_text("10,000 USDT").wait_for()
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        page.screenshot(path=artifacts / f"exchange-account-list-balances-{name}.png", full_page=True)
        context.close()
