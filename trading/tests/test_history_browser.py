"""Trade history filters in a browser: a bad pair of dates is told once, in the form, and goes
away when fixed; the next page carries no leftover banner."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.tests.helpers import sign_in_browser
from bots import actions
from bots.tests.conftest import grid_config, paper_account_for
from trading.tests.factories import make_fills

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 860}


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_bad_dates_are_told_in_the_form_and_cleared(
    live_server, browser, artifacts: Path, world, viewport
) -> None:
    owner = world.owner
    bot = actions.do_create_bot(owner, paper_account_for(owner), "BTC grid", grid_config(), Decimal(54000))
    make_fills(bot, 3, start=datetime(2026, 3, 1, 12, tzinfo=UTC))
    context = browser.new_context(viewport=viewport)
    page = sign_in_browser(context.new_page(), live_server.url, owner.email)
    page.goto(f"{live_server.url}/trades/")
    banner = page.locator("#trade-filters .filter-errors")

    page.get_by_label("To").fill("2026-03-01")
    page.get_by_label("From").fill("2026-03-05")
    page.get_by_label("From").dispatch_event("change")
    expect(banner).to_have_count(1)
    expect(page.get_by_text("swap the dates")).to_be_visible()
    page.screenshot(path=artifacts / f"trades-bad-filter-{viewport['width']}.png", full_page=True)
    told = page.get_by_text("Some filters are not valid").count()

    page.get_by_label("From").fill("2026-02-28")
    page.get_by_label("From").dispatch_event("change")
    expect(banner).to_have_count(0)
    expect(page.locator("#trade-results tbody tr")).to_have_count(3)
    page.goto(f"{live_server.url}/")
    leftover = page.get_by_text("Some filters are not valid").count()
    context.close()

    assert told == 1
    assert leftover == 0
