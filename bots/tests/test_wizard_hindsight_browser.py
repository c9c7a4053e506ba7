"""The wizard shows what the typed grid would have done over the last 30 days, on a desktop and a phone."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in_browser
from bots.backtests import recent
from bots.tests.conftest import paper_account_for
from bots.tests.test_wizard_browser import DESKTOP, PHONE, fits_the_screen, wait_for_levels
from exchanges.paper import market

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_replayed_figures_follow_the_form_and_open_a_backtest(
    live_server, browser, artifacts: Path
) -> None:
    recent.forget_series()
    trader = make_user(email="hindsight.trader@example.com")
    paper_account_for(trader)
    market.set_price("BTCUSDT", Decimal("20000"))
    context = browser.new_context(viewport=DESKTOP)
    page = sign_in_browser(context.new_page(), live_server.url, trader.email)

    page.goto(f"{live_server.url}/bots/new/")
    page.get_by_label("Lower price").fill("18000")
    page.get_by_label("Upper price").fill("24000")
    page.get_by_label("Grids").fill("30")
    page.get_by_label("Investment", exact=True).fill("5000")
    wait_for_levels(page, 31)
    replay = page.get_by_test_id("hindsight")
    replay.wait_for()
    assert "Over 30 days of replayed candles from 2023-01-10 21:20" in replay.inner_text()
    fills = page.get_by_test_id("hindsight-fills").inner_text()
    page.get_by_label("Grids").fill("10")
    wait_for_levels(page, 11)
    assert page.get_by_test_id("hindsight-fills").inner_text() != fills  # it follows the form
    replay.scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "wizard-hindsight-desktop.png", full_page=True)

    page.set_viewport_size(PHONE)
    page.wait_for_timeout(200)
    assert fits_the_screen(page)
    replay.scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "wizard-hindsight-phone.png")

    page.get_by_test_id("hindsight-backtest").click()
    page.wait_for_url(f"{live_server.url}/backtests/?*")
    assert page.get_by_label("Lower price").input_value() == "18000"
    assert page.get_by_label("Grids").input_value() == "10"
    context.close()
