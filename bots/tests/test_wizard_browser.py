"""A trader builds a grid in the wizard, watches the preview follow, and starts the bot."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in_browser
from bots.models import Bot, BotStatus
from bots.tests.conftest import paper_account_for
from bots.tests.test_chart_browser import assert_grid_readable
from bots.tests.test_wizard import trade_a_day
from exchanges.tasks import advance_paper_markets

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
LEVEL_ROWS = ".levels-table tbody tr"


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def wait_for_levels(page, count: int) -> None:
    page.wait_for_function(
        f"document.querySelectorAll('{LEVEL_ROWS}').length === {count}"
        f" && document.querySelector('[data-preview-chart]')?.dataset.levels === '{count}'"
    )


def test_build_preview_auto_range_and_start_a_bot(live_server, browser, artifacts: Path) -> None:
    trader = make_user(email="wizard.trader@example.com")
    account = paper_account_for(trader)
    trade_a_day(Decimal("54000"))
    context = browser.new_context(viewport=DESKTOP)
    page = sign_in_browser(context.new_page(), live_server.url, trader.email)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="New bot").click()
    page.wait_for_url(f"{live_server.url}/bots/new/")
    assert page.get_by_test_id("last-price").inner_text() == "54,000.0"
    page.get_by_label("Lower price").fill("45000")
    page.get_by_label("Upper price").fill("65000")
    page.get_by_label("Grids").fill("5")
    page.get_by_label("Investment", exact=True).fill("1000")
    wait_for_levels(page, 6)
    assert page.locator(".levels-table .side-buy").count() == 3
    assert page.locator(".levels-table .side-sell").count() == 2

    page.get_by_label("Grids").fill("10")
    wait_for_levels(page, 11)
    page.get_by_label("Upper price").fill("40000")  # below the lower price
    expect_error = page.locator("#errors-upper_price")
    expect_error.get_by_text("The upper price must be above the lower price.").wait_for()
    page.get_by_label("Upper price").fill("65000")
    wait_for_levels(page, 11)
    assert expect_error.inner_text() == ""
    assert page.locator(".preview-chart-canvas canvas").count() > 0
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=artifacts / "bot-wizard-desktop.png", full_page=True)

    page.get_by_role("button", name="Auto range").click()
    page.locator("#auto-range-notice").wait_for()
    lower = Decimal(page.get_by_label("Lower price").input_value())
    upper = Decimal(page.get_by_label("Upper price").input_value())
    grids = int(page.get_by_label("Grids").input_value())
    assert lower < Decimal("54000") < upper
    assert (lower, upper) != (Decimal("45000"), Decimal("65000"))
    wait_for_levels(page, grids + 1)
    assert page.get_by_label("Investment", exact=True).input_value() == "1000"

    page.set_viewport_size(PHONE)
    page.wait_for_timeout(200)  # the chart follows its container's width
    assert fits_the_screen(page)
    assert page.evaluate("(n => n.scrollWidth <= n.clientWidth)(document.querySelector('.mainnav'))")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=artifacts / "bot-wizard-phone.png", full_page=True)
    page.screenshot(path=artifacts / "bot-wizard-phone-top.png")
    page.locator("#wizard-preview").scroll_into_view_if_needed()
    page.screenshot(path=artifacts / "bot-wizard-phone-preview.png")

    page.get_by_role("button", name="Review").click()
    page.get_by_text("Orders will be placed on your paper account").wait_for()
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "bot-wizard-confirm-phone.png", full_page=True)
    assert not Bot.objects.exists()
    page.get_by_role("button", name="Create and start").click()
    page.wait_for_url(re.compile(rf"{live_server.url}/bots/\d+/$"))
    context.close()

    bot = Bot.objects.get()
    assert page.url == f"{live_server.url}/bots/{bot.pk}/"
    assert bot.owner == trader
    assert bot.exchange_account == account
    assert bot.status in (BotStatus.STARTING, BotStatus.RUNNING)
    assert bot.grid_config.lower_price == lower
    assert bot.grid_config.grid_count == grids


def test_a_trader_without_an_account_is_sent_to_add_one(live_server, browser) -> None:
    trader = make_user(email="new.trader@example.com")
    context = browser.new_context(viewport=PHONE)
    page = sign_in_browser(context.new_page(), live_server.url, trader.email)
    page.goto(f"{live_server.url}/bots/new/")
    page.get_by_role("link", name="Add an exchange account").click()
    page.wait_for_url(f"{live_server.url}/exchange-accounts/new/")
    context.close()


def test_a_minute_after_install_auto_range_fills_the_form_and_the_chart(
    live_server, browser, artifacts: Path
) -> None:
    """A fresh database with only the first minute of beat's feed steps: two days of candles."""
    for _ in range(30):
        advance_paper_markets()
    trader = make_user(email="first.minute@example.com")
    paper_account_for(trader)
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        context = browser.new_context(viewport=viewport)
        page = sign_in_browser(context.new_page(), live_server.url, trader.email)
        page.goto(f"{live_server.url}/bots/new/")
        page.get_by_label("Investment", exact=True).fill("1000")
        page.get_by_role("button", name="Auto range").click()
        page.locator("#auto-range-notice").wait_for()
        assert "standard deviations" in page.locator("#auto-range-notice").inner_text()
        grids = int(page.get_by_label("Grids").input_value())
        wait_for_levels(page, grids + 1)
        figure = page.locator("[data-preview-chart]")
        assert int(figure.get_attribute("data-candles") or 0) >= 2 * 24 * 4 - 1
        page.wait_for_function("document.querySelector('[data-preview-chart]').dataset.view !== undefined")
        view = json.loads(figure.get_attribute("data-view") or "{}")
        figure.scroll_into_view_if_needed()
        figure.screenshot(path=artifacts / f"bot-wizard-first-minute-chart-{name}.png")
        lower = Decimal(page.get_by_label("Lower price").input_value())
        upper = Decimal(page.get_by_label("Upper price").input_value())
        assert_grid_readable(page, ".preview-chart-canvas", view, lower, upper)
        assert len(view["levels"]) == grids + 1
        assert view["firstX"] < view["width"] * 0.05, "all two days of candles, across the width"
        context.close()
