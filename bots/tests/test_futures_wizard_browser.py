"""A trader chooses the futures grid in the wizard, watches the levels and the liquidation price
follow the form, reviews, accepts the liquidation inside the range, and starts the bot: at
desktop and phone widths, without the page scrolling sideways."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from playwright.sync_api import expect

from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in_browser
from bots.models import Bot, BotStatus
from bots.strategies import futures_grid as fg
from bots.tests.conftest import paper_account_for
from exchanges.paper import market

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ROWS = ".futures-levels-table tbody tr"


def no_sideways_scroll(page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def test_choose_futures_fill_preview_consent_create_and_start(live_server, browser, artifacts: Path) -> None:
    trader = make_user(email="futures.trader@example.com")
    market.set_price("BTCUSDT", Decimal("55000"))
    account = paper_account_for(trader)
    context = browser.new_context(viewport=DESKTOP)
    page = sign_in_browser(context.new_page(), live_server.url, trader.email)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="New bot").click()
    page.get_by_test_id("choose-futures-grid").click()
    page.wait_for_url(f"{live_server.url}/bots/new/?strategy=futures_grid")
    expect(page.get_by_text("Your cap: 20x (this server's limit).")).to_be_visible()
    page.get_by_label("Leverage (x)").fill("10")
    page.get_by_label("Lower price").fill("50000")
    page.get_by_label("Upper price").fill("60000")
    page.get_by_label("Grids", exact=True).fill("5")
    page.get_by_label("Margin (USDT)").fill("1000")
    expect(page.locator(ROWS)).to_have_count(6)
    expect(page.get_by_test_id("liquidation-long")).to_contain_text("48,055.6 USDT")
    expect(page.get_by_test_id("liquidation-in-range")).to_have_count(0)

    page.get_by_label("Leverage (x)").fill("50")
    expect(page.locator("#errors-leverage")).to_contain_text("Choose a leverage from 1x to 20x")
    page.get_by_label("Leverage (x)").fill("20")
    expect(page.get_by_test_id("liquidation-in-range")).to_contain_text("inside your range")
    expect(page.locator(ROWS).first.locator("td[data-label='Reduce-only']")).to_have_text("Yes")
    page.get_by_text("Take-profit, stop-loss and stop near liquidation").click()
    page.get_by_label("Stop near liquidation (%)").fill("2")
    expect(page.get_by_label("Stop near liquidation (%)")).to_be_visible()
    page.screenshot(path=artifacts / "futures-wizard-desktop.png", full_page=True)

    page.set_viewport_size(PHONE)
    assert no_sideways_scroll(page)
    expect(page.get_by_test_id("liquidation-in-range")).to_be_visible()
    page.screenshot(path=artifacts / "futures-wizard-phone.png", full_page=True)

    page.get_by_role("button", name="Review").click()
    consent = page.get_by_label(
        re.compile("I understand the position would be liquidated at ≈ 52,113.8 USDT, inside my range")
    )
    expect(consent).to_be_visible()
    assert no_sideways_scroll(page)
    page.screenshot(path=artifacts / "futures-confirm-phone.png", full_page=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=artifacts / "futures-confirm-desktop.png", full_page=True)
    assert not Bot.objects.exists()

    page.get_by_role("button", name="Create and start").click()  # the required checkbox stops it
    expect(consent).to_be_visible()
    assert not Bot.objects.exists()
    consent.check()
    page.get_by_role("button", name="Create and start").click()
    page.wait_for_url(re.compile(rf"{live_server.url}/bots/\d+/$"))
    page.set_viewport_size(PHONE)
    assert no_sideways_scroll(page)
    page.screenshot(path=artifacts / "futures-bot-phone.png", full_page=True)
    context.close()

    bot = Bot.objects.get()
    assert (bot.owner, bot.exchange_account, bot.strategy) == (trader, account, "futures_grid")
    assert bot.status != BotStatus.DRAFT
    config = bot.strategy_config
    assert isinstance(config, fg.FuturesGridConfig)
    assert (config.leverage, config.grid_count, config.investment) == (Decimal(20), 5, Decimal(1000))
    assert config.liquidation_stop_distance == Decimal(2)
