"""On a phone the preview sits below the form: a summary bar keeps its figures in sight."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in_browser
from bots.tests.conftest import paper_account_for
from bots.tests.test_wizard import trade_a_day
from bots.tests.test_wizard_browser import DESKTOP, PHONE, wait_for_levels

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

IN_VIEW = """(selector) => {
  const box = document.querySelector(selector).getBoundingClientRect();
  return box.height > 0 && box.top >= 0 && box.bottom <= window.innerHeight;
}"""


UNCOVERED = """(selector) => {
  const box = document.querySelector(selector).getBoundingClientRect();
  const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  return hit === document.querySelector(selector);
}"""


# Every item of the bar ends inside the screen: a sentence wraps rather than running off its edge.
ITEMS_FIT = """(selector) => [...document.querySelectorAll(selector + ' > *')].every(
  item => item.getBoundingClientRect().right <= window.innerWidth)"""


def in_view(page, selector: str) -> bool:
    return bool(page.evaluate(IN_VIEW, selector))


def uncovered(page, selector: str) -> bool:
    """Nothing, such as the summary bar, lies over the middle of the element."""
    return bool(page.evaluate(UNCOVERED, selector))


def test_the_summary_stays_in_view_while_the_trader_fills_the_form(
    live_server, browser, artifacts: Path
) -> None:
    trader = make_user(email="phone.trader@example.com")
    paper_account_for(trader)  # 5,000 USDT
    trade_a_day(Decimal("54000"))
    context = browser.new_context(viewport=PHONE)
    page = sign_in_browser(context.new_page(), live_server.url, trader.email)
    page.goto(f"{live_server.url}/bots/new/")
    summary = page.get_by_test_id("wizard-summary")
    assert in_view(page, "#wizard-summary")
    summary.get_by_text("Fill in lower price, upper price, investment for the figures.").wait_for()
    assert page.evaluate(ITEMS_FIT, "#wizard-summary"), "the bar's text runs off a 390-px screen"

    page.get_by_label("Lower price").fill("45000")
    assert in_view(page, "#wizard-summary")
    page.get_by_label("Upper price").fill("65000")
    page.get_by_label("Grids").fill("5")
    page.get_by_label("Investment", exact=True).fill("1000")
    wait_for_levels(page, 6)
    page.get_by_label("Investment", exact=True).scroll_into_view_if_needed()
    assert in_view(page, "#wizard-summary")
    assert uncovered(page, "#id_investment"), "the field being typed in stays above the bar"
    assert not in_view(page, "#wizard-preview-title"), "the full preview is out of sight below the form"
    assert page.get_by_test_id("summary-needed").inner_text().endswith("USDT")
    assert "%" in page.get_by_test_id("summary-profit").inner_text()
    assert page.get_by_test_id("summary-warnings").inner_text() == "⚠ 1 warning"  # no stop-loss
    page.screenshot(path=artifacts / "bot-wizard-summary-phone.png")

    page.get_by_label("Investment", exact=True).fill("1000000")
    page.get_by_test_id("summary-warnings").get_by_text("⚠ 2 warnings").wait_for()
    page.get_by_label("Investment", exact=True).scroll_into_view_if_needed()
    assert in_view(page, "#wizard-summary")
    page.screenshot(path=artifacts / "bot-wizard-summary-phone-short.png")

    page.get_by_role("link", name="Full preview ↓").click()
    page.wait_for_function(f"({IN_VIEW})('#wizard-preview-title')")
    page.screenshot(path=artifacts / "bot-wizard-summary-phone-preview.png")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")

    page.set_viewport_size(DESKTOP)
    expect(summary).to_be_hidden()  # beside the form on a wide screen, the preview needs no summary
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=artifacts / "bot-wizard-funds-desktop.png", full_page=True)
    context.close()
