"""A trader stops a running paper bot with "Sell the base": a page says what is sold at market and
for about how much, on a desktop and a phone, and only its confirm button sells."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from accounts.models import User
from bots import engine
from bots.models import Bot, BotStatus
from bots.tests.asgi import AsgiServer, in_worker
from bots.tests.test_detail_browser import PHONE, signed_in
from bots.tests.test_engine import settle, started
from bots.tests.test_exit_parts import holding_about_100_btc, whale
from exchanges.instruments import instrument_for
from trading.models import Order, OrderPurpose, OrderStatus
from trading.templatetags.money import format_amount

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

D = Decimal


def test_selling_the_base_on_stop_is_confirmed_on_its_own_page(
    live_server_asgi: AsgiServer, browser, artifacts: Path, paper_bot: Bot
) -> None:
    from playwright.sync_api import expect

    bot = in_worker(lambda: started(paper_bot))
    instrument = instrument_for(bot.exchange_account, bot.symbol)
    assert bot.books is not None
    held = format_amount(bot.books.base, instrument.quantity_step)
    context = signed_in(browser, bot, live_server_asgi.url)
    page = context.new_page()
    page.goto(f"{live_server_asgi.url}/bots/{bot.pk}/")

    page.get_by_label("Sell the base", exact=True).check()
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.get_by_role("heading", name=f"Stop “{bot.name}” and sell its BTC?")).to_be_visible()
    expect(page.get_by_test_id("sale-held")).to_have_text(f"{held} BTC")
    expect(page.get_by_test_id("sale-proceeds")).to_contain_text("USDT")
    expect(page.get_by_text("A market order takes whatever the order book offers.")).to_be_visible()
    assert in_worker(lambda: Bot.objects.get(pk=bot.pk).status) == BotStatus.RUNNING
    page.screenshot(path=artifacts / "stop-sale-confirm-desktop.png", full_page=True)

    page.set_viewport_size(PHONE)
    page.wait_for_timeout(200)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=artifacts / "stop-sale-confirm-phone.png", full_page=True)

    page.get_by_role("button", name="Stop and sell at market").click()
    expect(page.get_by_text("is stopping and selling its base.")).to_be_visible()
    bot = in_worker(lambda: settle(bot))
    assert bot.status == BotStatus.STOPPED
    exit_order = in_worker(lambda: Order.objects.get(bot=bot, purpose=OrderPurpose.EXIT))
    assert exit_order.status == OrderStatus.FILLED
    context.close()


def test_a_sale_in_several_market_orders_says_so_on_a_desktop_and_a_phone(
    live_server_asgi: AsgiServer, browser, artifacts: Path, trader: User
) -> None:
    from playwright.sync_api import expect

    bot = in_worker(lambda: holding_about_100_btc(started(whale(trader)), lambda b: engine.run_tick(b.pk)))
    context = signed_in(browser, bot, live_server_asgi.url)
    page = context.new_page()
    page.goto(f"{live_server_asgi.url}/bots/{bot.pk}/")

    page.get_by_label("Sell the base", exact=True).check()
    page.get_by_role("button", name="Stop", exact=True).click()
    several = "3 market orders: the exchange takes at most 41.5 BTC in one."
    expect(page.get_by_test_id("sale-orders")).to_contain_text(several)
    page.screenshot(path=artifacts / "stop-sale-in-parts-desktop.png", full_page=True)

    page.set_viewport_size(PHONE)
    page.wait_for_timeout(200)
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    page.screenshot(path=artifacts / "stop-sale-in-parts-phone.png", full_page=True)

    page.get_by_role("button", name="Stop and sell at market").click()
    expect(page.get_by_text("is stopping and selling its base.")).to_be_visible()
    bot = in_worker(lambda: settle(bot))
    assert bot.status == BotStatus.STOPPED
    sale = Order.objects.filter(bot=bot, purpose=OrderPurpose.EXIT)
    parts = in_worker(lambda: list(sale.values_list("status", flat=True)))
    assert parts == [OrderStatus.FILLED] * 3
    context.close()
