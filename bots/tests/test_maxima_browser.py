"""A trader types an investment too big for the venue and reads, under the field, what to change."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in_browser
from bots.tests.conftest import paper_account_for
from bots.tests.test_wizard_browser import DESKTOP, PHONE, fits_the_screen, wait_for_levels
from exchanges.paper import market

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_an_investment_above_the_venue_maxima_is_explained_on_the_field(
    live_server, browser, artifacts: Path
) -> None:
    trader = make_user(email="whale.trader@example.com")
    paper_account_for(trader)
    market.set_price("BTCUSDT", Decimal("54000"))
    context = browser.new_context(viewport=DESKTOP)
    page = sign_in_browser(context.new_page(), live_server.url, trader.email)
    page.goto(f"{live_server.url}/bots/new/")
    page.get_by_label("Lower price").fill("45000")
    page.get_by_label("Upper price").fill("65000")
    page.get_by_label("Grids").fill("5")
    page.get_by_label("Investment", exact=True).fill("1000")
    wait_for_levels(page, 6)
    assert page.get_by_test_id("max-market-quantity").inner_text() == "41.5 BTC"

    page.get_by_label("Investment", exact=True).fill("999999999")
    errors = page.locator("#errors-investment")
    errors.get_by_text("Each order would be 3,919.905937 BTC", exact=False).wait_for()
    text = errors.inner_text()
    assert "above Paper trading's maximum of 83 BTC per limit order" in text
    assert "The start would buy 7,847.659534 BTC at market" in text
    assert "41.5 BTC per market order: lower the investment to at most 5,288,199 USDT." in text
    errors.scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "bot-wizard-maxima-desktop.png")

    page.set_viewport_size(PHONE)
    errors.scroll_into_view_if_needed()
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "bot-wizard-maxima-phone.png")
    page.get_by_test_id("max-amount").scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "bot-wizard-maxima-filters-phone.png")

    page.get_by_label("Investment", exact=True).fill("5288199")
    errors.get_by_text("per limit order", exact=False).wait_for(state="detached")
    assert "maximum" not in errors.inner_text()
    context.close()
