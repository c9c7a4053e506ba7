"""A trader chooses DCA in the wizard, watches the safety-order table follow the form, and starts
the bot."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in_browser
from bots.models import Bot, BotStatus
from bots.strategies import dca
from bots.tests.conftest import paper_account_for
from exchanges.paper import market

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
ROWS = ".safety-orders-table tbody tr.safety-order-row"


def wait_for_rows(page, count: int) -> None:
    page.wait_for_function(f"document.querySelectorAll('{ROWS}').length === {count}")


def deviations(page) -> list[str]:
    return page.locator(f"{ROWS} td[data-label='Deviation']").all_inner_texts()


def test_choose_dca_fill_preview_create_and_start(live_server, browser, artifacts: Path) -> None:
    trader = make_user(email="dca.trader@example.com")
    market.set_price("BTCUSDT", Decimal("54000"))
    account = paper_account_for(trader)
    context = browser.new_context(viewport=DESKTOP)
    page = sign_in_browser(context.new_page(), live_server.url, trader.email)

    page.get_by_role("navigation", name="Main").get_by_role("link", name="New bot").click()
    page.get_by_test_id("choose-dca").click()
    page.wait_for_url(f"{live_server.url}/bots/new/?strategy=dca")
    page.get_by_label("Base order", exact=True).fill("100")
    page.get_by_label("Safety order", exact=True).fill("50")
    page.get_by_label("Price deviation (%)").fill("1")
    page.get_by_label("Safety order step scale").fill("2")
    page.get_by_label("Max safety orders").fill("5")
    page.get_by_label("Take profit (%)").fill("1.5")
    wait_for_rows(page, 5)
    assert deviations(page) == ["1%", "3%", "7%", "15%", "31%"]
    assert page.get_by_test_id("lowest-price").inner_text().startswith("37,260.0 USDT")

    page.get_by_label("Max safety orders").fill("4")
    wait_for_rows(page, 4)
    assert deviations(page) == ["1%", "3%", "7%", "15%"]
    page.get_by_label("Take profit (%)").fill("0")
    page.locator("#errors-take_profit").get_by_text("The take profit must be above zero").wait_for()
    page.get_by_label("Take profit (%)").fill("1.5")
    wait_for_rows(page, 4)
    page.screenshot(path=artifacts / "dca-wizard-desktop.png", full_page=True)

    page.set_viewport_size(PHONE)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    table_box = page.locator(".safety-orders-wrap")
    assert table_box.evaluate("n => n.scrollWidth > n.clientWidth")  # the table scrolls in its own box
    page.screenshot(path=artifacts / "dca-wizard-phone.png", full_page=True)

    page.get_by_role("button", name="Review").click()
    page.get_by_text("Orders will be placed on your paper account").wait_for()
    assert not Bot.objects.exists()
    page.get_by_role("button", name="Create and start").click()
    page.wait_for_url(re.compile(rf"{live_server.url}/bots/\d+/$"))
    context.close()

    bot = Bot.objects.get()
    assert page.url == f"{live_server.url}/bots/{bot.pk}/"
    assert (bot.owner, bot.exchange_account, bot.strategy) == (trader, account, "dca")
    assert bot.status in (BotStatus.STARTING, BotStatus.RUNNING)
    config = bot.strategy_config
    assert isinstance(config, dca.DcaConfig)
    assert (config.max_safety_orders, config.step_scale, config.take_profit) == (4, 2, Decimal("1.5"))
