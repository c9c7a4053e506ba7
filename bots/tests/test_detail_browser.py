"""A trader watches a running paper bot's page: a fill appears without a reload, and after the
Stop button its active orders go. Served by uvicorn (ASGI), since websockets need it."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from bots import actions
from bots.models import Bot, BotStatus
from bots.tests.asgi import WATCH_SOCKET, AsgiServer, in_worker, wait_for_socket
from bots.tests.test_engine import settle, started, tick
from exchanges.paper import market

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

D = Decimal
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _price_history() -> None:
    """Two days of 5-minute candles around 54,000, so the chart has something to draw."""
    now = timezone.now()
    for step in range(120, 0, -1):
        wave = D((step * 37) % 700) - D(350)
        market.set_price("BTCUSDT", D(54000) + wave, at=now - timedelta(minutes=5 * step))
    market.set_price("BTCUSDT", D("54000"))


def signed_in(browser, bot: Bot, url: str):
    session = Client()
    session.force_login(bot.owner)
    context = browser.new_context(viewport=DESKTOP)
    cookie = session.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": url}])
    context.add_init_script(WATCH_SOCKET)
    return context


def _fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_a_fill_appears_live_and_stop_clears_the_orders(
    live_server_asgi: AsgiServer, browser, artifacts: Path, paper_bot: Bot
) -> None:
    from playwright.sync_api import expect

    def start_with_history() -> Bot:
        _price_history()
        return started(paper_bot)

    bot = in_worker(start_with_history)
    context = signed_in(browser, bot, live_server_asgi.url)
    page = context.new_page()
    page.goto(f"{live_server_asgi.url}/bots/{bot.pk}/")
    wait_for_socket(page)
    page.wait_for_function("window.__live.messages >= 2")  # caught up, and the tab it shows
    expect(page.locator("[data-bot-status]")).to_have_text("Running")
    assert page.locator("[data-live-status]").is_hidden()

    page.locator(".tabs").get_by_role("link", name="Trades").click()
    expect(page.locator("[data-live-tab]")).to_have_attribute("data-live-tab", "trades")
    expect(page.locator("#bot-fills tr[data-trade]")).to_have_count(1)  # the start trade
    page.wait_for_function("window.__live.messages >= 3")  # the socket knows the tab now
    page.evaluate("window.__sameDocument = true")

    in_worker(lambda: market.set_price("BTCUSDT", D("52900")))  # crosses the 53,000 buy
    bot = in_worker(lambda: tick(bot))

    expect(page.locator("#bot-fills tr[data-trade]")).to_have_count(2)
    expect(page.locator("#bot-fills")).to_contain_text("53,000.0")
    expect(page.locator(".tabs .count").first).to_have_text("5")
    assert page.evaluate("window.__sameDocument === true"), "updated in place, not reloaded"
    page.locator(".tabs").get_by_role("link", name="Active orders").click()
    expect(page.locator("#bot-orders tr[data-order]")).to_have_count(5)
    page.wait_for_timeout(600)  # let the chart draw its candles
    page.screenshot(path=artifacts / "bot-detail-desktop.png", full_page=True)

    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    assert _fits_the_screen(page)
    page.screenshot(path=artifacts / "bot-detail-phone.png", full_page=True)
    page.set_viewport_size(DESKTOP)

    page.get_by_label("Sell the base", exact=True).check()
    page.get_by_role("button", name="Stop", exact=True).click()
    page.get_by_role("button", name="Stop and sell at market").click()
    expect(page.get_by_text("is stopping and selling its base.")).to_be_visible()
    expect(page.locator("[data-bot-status]")).to_have_text("Stopping")
    wait_for_socket(page)  # the new page's socket
    page.wait_for_function("window.__live.messages >= 2")

    bot = in_worker(lambda: settle(bot))  # the engine cancels the grid and sells the base
    assert bot.status == BotStatus.STOPPED

    expect(page.locator("[data-bot-status]")).to_have_text("Stopped")
    expect(page.locator("#bot-orders tr[data-order]")).to_have_count(0)
    expect(page.get_by_text("No active orders: start the bot to lay out its grid.")).to_be_visible()
    expect(page.get_by_role("button", name="Start", exact=True)).to_be_visible()
    page.screenshot(path=artifacts / "bot-detail-stopped-desktop.png", full_page=True)
    context.close()


def test_a_dropped_socket_shows_paused_then_catches_up(
    live_server_asgi: AsgiServer, browser, paper_bot: Bot
) -> None:
    from playwright.sync_api import expect

    context = signed_in(browser, paper_bot, live_server_asgi.url)
    page = context.new_page()
    page.goto(f"{live_server_asgi.url}/bots/{paper_bot.pk}/?tab=events")
    wait_for_socket(page)
    paused = page.locator("[data-live-status]")
    assert paused.is_hidden()

    live_server_asgi.stop()  # a deploy, or the network going away
    expect(paused).to_be_visible()
    expect(paused).to_have_text("Live updates paused. Reconnecting…")
    in_worker(lambda: actions.do_start_bot(paper_bot))  # happens while the page is cut off
    live_server_asgi.start()

    expect(paused).to_be_hidden(timeout=20_000)
    expect(page.locator("[data-bot-status]")).to_have_text("Starting")
    expect(page.locator("#bot-events")).to_contain_text("Starting.")
    context.close()


def test_what_the_trader_set_in_the_stop_forms_survives_a_reconnect(
    live_server_asgi: AsgiServer, browser, paper_bot: Bot
) -> None:
    """On every (re)connect the socket re-renders the stop forms: a ticked "Sell the base" and an
    open emergency panel must come through it, or Stop would do less than the trader asked."""
    from playwright.sync_api import expect

    bot = in_worker(lambda: started(paper_bot))
    context = signed_in(browser, bot, live_server_asgi.url)
    page = context.new_page()
    page.goto(f"{live_server_asgi.url}/bots/{bot.pk}/")
    wait_for_socket(page)
    page.get_by_label("Sell the base", exact=True).check()
    page.locator("details.emergency summary").click()
    page.get_by_label("Also sell the base at market").check()

    messages = page.evaluate("window.__live.messages")
    live_server_asgi.stop()
    live_server_asgi.start()
    wait_for_socket(page, opened=2)
    page.wait_for_function(f"window.__live.messages > {messages}")  # the reconnect's fragments
    page.wait_for_timeout(300)  # and their swaps settled

    expect(page.get_by_label("Sell the base", exact=True)).to_be_checked()
    expect(page.get_by_label("Also sell the base at market")).to_be_checked()
    expect(page.locator("details.emergency")).to_have_attribute("open", "")
    page.get_by_role("button", name="Stop", exact=True).click()
    expect(page.get_by_role("heading", name=f"Stop “{bot.name}” and sell its BTC?")).to_be_visible()
    context.close()
