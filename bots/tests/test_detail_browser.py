"""A trader watches a running paper bot's page: a fill appears without a reload, and after the
Stop button its active orders go. Served by uvicorn (ASGI), since websockets need it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TypeVar

import pytest
import uvicorn
from django.conf import settings
from django.db import connection
from django.test import Client
from django.utils import timezone

from bots import actions
from bots.models import Bot, BotStatus
from bots.tests.test_engine import settle, started, tick
from exchanges.paper import market

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

D = Decimal
T = TypeVar("T")
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
# Counts socket openings and messages, so the test waits for the page instead of sleeping.
WATCH_SOCKET = """
window.__live = {opened: 0, messages: 0};
document.addEventListener('htmx:wsOpen', () => window.__live.opened++);
document.addEventListener('htmx:wsAfterMessage', () => window.__live.messages++);
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class AsgiServer:
    """The project's ASGI application under uvicorn on a thread, against the test database
    (Django's live server is WSGI and cannot carry websockets). It can stop and start again on
    the same port, as a deploy would."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        config = uvicorn.Config(
            "config.asgi:application", host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start in time"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(10)


@pytest.fixture
def asgi(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[AsgiServer]:
    # The server's worker threads outlive the test; with persistent connections they would
    # keep the test database open and its teardown would fail.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    server = AsgiServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def asgi_server(asgi: AsgiServer) -> str:
    return asgi.url


def _price_history() -> None:
    """Two days of 5-minute candles around 54,000, so the chart has something to draw."""
    now = timezone.now()
    for step in range(120, 0, -1):
        wave = D((step * 37) % 700) - D(350)
        market.set_price("BTCUSDT", D(54000) + wave, at=now - timedelta(minutes=5 * step))
    market.set_price("BTCUSDT", D("54000"))


def in_worker(work: Callable[[], T]) -> T:
    """Run engine work on its own thread, as a Celery worker would: Playwright's sync API keeps
    an event loop on the test's thread, and publishing after commit may not block that loop."""

    def run() -> T:
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(run).result(timeout=60)


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


def _wait_for_socket(page, opened: int = 1) -> None:
    page.wait_for_function(f"window.__live && window.__live.opened >= {opened}")


def test_a_fill_appears_live_and_stop_clears_the_orders(
    asgi_server: str, browser, artifacts: Path, paper_bot: Bot
) -> None:
    from playwright.sync_api import expect

    def start_with_history() -> Bot:
        _price_history()
        return started(paper_bot)

    bot = in_worker(start_with_history)
    context = signed_in(browser, bot, asgi_server)
    page = context.new_page()
    page.goto(f"{asgi_server}/bots/{bot.pk}/")
    _wait_for_socket(page)
    page.wait_for_function("window.__live.messages >= 2")  # caught up, and the tab it shows
    expect(page.locator("[data-bot-status]")).to_have_text("Running")
    assert page.locator("[data-live-status]").is_hidden()

    page.get_by_role("link", name="Trades").click()
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
    page.get_by_role("link", name="Active orders").click()
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
    expect(page.get_by_text("is stopping and selling its base.")).to_be_visible()
    expect(page.locator("[data-bot-status]")).to_have_text("Stopping")
    _wait_for_socket(page)  # the new page's socket
    page.wait_for_function("window.__live.messages >= 2")

    bot = in_worker(lambda: settle(bot))  # the engine cancels the grid and sells the base
    assert bot.status == BotStatus.STOPPED

    expect(page.locator("[data-bot-status]")).to_have_text("Stopped")
    expect(page.locator("#bot-orders tr[data-order]")).to_have_count(0)
    expect(page.get_by_text("No active orders: start the bot to lay out its grid.")).to_be_visible()
    expect(page.get_by_role("button", name="Start", exact=True)).to_be_visible()
    page.screenshot(path=artifacts / "bot-detail-stopped-desktop.png", full_page=True)
    context.close()


def test_a_dropped_socket_shows_paused_then_catches_up(asgi: AsgiServer, browser, paper_bot: Bot) -> None:
    from playwright.sync_api import expect

    context = signed_in(browser, paper_bot, asgi.url)
    page = context.new_page()
    page.goto(f"{asgi.url}/bots/{paper_bot.pk}/?tab=events")
    _wait_for_socket(page)
    paused = page.locator("[data-live-status]")
    assert paused.is_hidden()

    asgi.stop()  # a deploy, or the network going away
    expect(paused).to_be_visible()
    expect(paused).to_have_text("Live updates paused. Reconnecting…")
    in_worker(lambda: actions.do_start_bot(paper_bot))  # happens while the page is cut off
    asgi.start()

    expect(paused).to_be_hidden(timeout=20_000)
    expect(page.locator("[data-bot-status]")).to_have_text("Starting")
    expect(page.locator("#bot-events")).to_contain_text("Starting.")
    context.close()
