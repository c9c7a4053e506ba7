"""A trader watches a running futures grid's position on its page: the venue's figures, and the
distance to liquidation turning red by itself as the price falls towards it; on a desktop and on
a phone, neither scrolling sideways."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone

from bots.models import Bot
from bots.tests.asgi import AsgiServer, in_worker
from bots.tests.futures_bots import START_PRICE, futures_bot, open_position
from bots.tests.test_detail_browser import PHONE, _fits_the_screen, signed_in
from exchanges.paper import market

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

D = Decimal


def _running_long(trader) -> Bot:
    """Two days of 5-minute candles around the start price, then a 0.074 BTC long at 10x."""
    now = timezone.now()
    for step in range(120, 0, -1):
        wave = D((step * 37) % 700) - D(350)
        market.set_price("BTCUSDT", START_PRICE + wave, at=now - timedelta(minutes=5 * step))
    bot = futures_bot(trader, liquidation_stop_distance=D("3"))
    open_position(bot)
    return bot


def test_the_position_panel_turns_red_near_liquidation_without_a_reload(
    live_server_asgi: AsgiServer, browser, artifacts: Path, trader
) -> None:
    from playwright.sync_api import expect

    bot = in_worker(lambda: _running_long(trader))
    context = signed_in(browser, bot, live_server_asgi.url)
    page = context.new_page()
    page.goto(f"{live_server_asgi.url}/bots/{bot.pk}/")

    panel = page.locator("#bot-position")
    expect(panel.get_by_role("heading", name="Position")).to_be_visible()
    expect(panel.locator("[data-position-side]")).to_have_text("Long 0.074 BTC")
    expect(panel.locator("[data-position-mark]")).to_have_text("55,000.0")
    expect(panel.locator("[data-position-distance]")).to_have_text("9.62%")
    expect(panel.locator(".liquidation-near")).to_have_count(0)
    expect(page.locator("[data-funding]")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    in_worker(lambda: market.set_price("BTCUSDT", D("51000")))

    # The panel's own poll (every 5 s) brings the new mark and the warning.
    expect(panel.locator("[data-position-mark]")).to_have_text("51,000.0", timeout=12_000)
    expect(panel.locator(".liquidation-near [data-position-distance]")).to_contain_text("within 3%")
    price = page.locator("#bot-header .bot-facts div").filter(has_text="Price").locator("dd")
    expect(price).to_have_text("51,000.0")  # the header's price came with the poll
    assert page.evaluate("window.__sameDocument === true"), "updated in place, not reloaded"
    page.wait_for_timeout(600)  # let the chart draw its candles
    assert _fits_the_screen(page)
    page.screenshot(path=artifacts / "futures-position-desktop.png", full_page=True)

    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    assert _fits_the_screen(page)
    panel.screenshot(path=artifacts / "futures-position-panel-phone.png")
    page.screenshot(path=artifacts / "futures-position-phone.png", full_page=True)
    context.close()
