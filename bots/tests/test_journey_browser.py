"""The headline journey: a trader signs in, adds a paper account through the page, builds a grid
in the wizard while the preview follows, starts it, watches fills arrive on the bot's page
without a reload, stops it, and finds it on the dashboard. Served by uvicorn (ASGI) with the real
Redis channel layer; the engine runs on a worker thread, as Celery would run it."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in_browser
from bots.models import Bot, BotStatus
from bots.tests.asgi import WATCH_SOCKET, AsgiServer, in_worker, wait_for_socket
from bots.tests.test_engine import settle, tick
from bots.tests.test_wizard import trade_a_day
from bots.tests.test_wizard_browser import wait_for_levels
from exchanges.models import ExchangeAccount, ExchangeName
from exchanges.paper import market

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

D = Decimal
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}
SAME_DOCUMENT = "window.__sameDocument === true"


# Every lightweight-charts chart has redrawn at its container's new width.
CHARTS_FIT = """[...document.querySelectorAll('.tv-lightweight-charts')].every(
    chart => Math.abs(chart.getBoundingClientRect().width - chart.parentElement.clientWidth) < 2)"""
# The main nav shows all its links: none is scrolled out of sight.
NAV_FITS = "(nav => nav.scrollWidth <= nav.clientWidth)(document.querySelector('.mainnav'))"


def at_width(page, viewport: dict[str, int]) -> None:
    page.set_viewport_size(viewport)
    page.wait_for_function(CHARTS_FIT)
    page.wait_for_timeout(200)  # the redraw after the resize
    page.evaluate("window.scrollTo(0, 0)")  # the sticky bar stays at the top of a full-page shot


def shoot(page, artifacts: Path, name: str) -> None:
    """A full-page screenshot at desktop width, then at 390 px, where nothing may overflow."""
    at_width(page, DESKTOP)
    page.screenshot(path=artifacts / f"journey-{name}-1280.png", full_page=True)
    at_width(page, PHONE)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{name} is {width} px wide on a 390-px phone"
    assert page.evaluate(NAV_FITS), f"the main nav is cut off on {name} at 390 px"
    page.screenshot(path=artifacts / f"journey-{name}-390.png", full_page=True)
    at_width(page, DESKTOP)


def nav(page):
    return page.get_by_role("navigation", name="Main")


def figure(scope, label: str) -> str:
    """The value beside a `<dt>` reading exactly `label`, in a list of facts."""
    term = scope.page.locator("dt", has_text=re.compile(rf"^{re.escape(label)}$"))
    return str(scope.locator("dl > div", has=term).locator("dd").inner_text())


def amount(text: str) -> Decimal:
    return D(text.split()[0].replace(",", ""))


def add_paper_account(page, base_url: str) -> None:
    nav(page).get_by_role("link", name="Exchanges").click()
    page.get_by_role("link", name="Add an exchange account").click()
    page.get_by_label("Exchange").select_option(label="Paper trading")
    page.get_by_label("Label").fill("Practice")
    page.get_by_role("button", name="Check and connect").click()
    page.wait_for_url(re.compile(rf"{base_url}/exchange-accounts/\d+/$"))
    page.get_by_text("“Practice” is connected.").wait_for()


def build_a_grid_in_the_wizard(page, base_url: str, artifacts: Path) -> None:
    nav(page).get_by_role("link", name="New bot").click()
    page.wait_for_url(f"{base_url}/bots/new/")
    page.get_by_label("Lower price").fill("45000")
    page.get_by_label("Upper price").fill("65000")
    page.get_by_label("Grids").fill("4")
    page.get_by_label("Investment", exact=True).fill("1000")
    wait_for_levels(page, 5)

    page.get_by_label("Grids").fill("5")  # the levels follow the grid count
    wait_for_levels(page, 6)
    assert page.locator(".levels-table .side-buy").count() == 3
    assert page.locator(".levels-table .side-sell").count() == 2
    preview = page.locator("#wizard-preview")
    quantity, used = figure(preview, "Quantity per order"), figure(preview, "Investment used")

    page.get_by_label("Investment", exact=True).fill("2000")  # the figures follow the investment
    page.wait_for_function(
        "used => [...document.querySelectorAll('.preview-numbers div')]"
        ".find(d => d.querySelector('dt').textContent === 'Investment used')"
        ".querySelector('dd').textContent !== used",
        arg=used,
    )
    assert amount(figure(preview, "Quantity per order")) > amount(quantity)
    assert amount(figure(preview, "Investment used")) > amount(used)
    page.evaluate("window.scrollTo(0, 0)")
    shoot(page, artifacts, "wizard")

    page.get_by_role("button", name="Review").click()
    summary = page.locator(".wizard-confirm")
    summary.get_by_text("Orders will be placed on your paper account").wait_for()
    assert figure(summary, "Range") == "45,000.0 \u2013 65,000.0 USDT"
    assert amount(figure(summary, "Investment")) == D("2000")
    assert figure(summary, "Grids").startswith("5,")
    assert not Bot.objects.exists(), "only the confirmation creates"
    page.get_by_role("button", name="Create and start").click()
    page.wait_for_url(re.compile(rf"{base_url}/bots/\d+/$"))


def test_sign_in_connect_build_start_watch_fills_stop_and_see_the_dashboard(
    live_server_asgi: AsgiServer, browser, artifacts: Path
) -> None:
    from playwright.sync_api import expect

    base_url = live_server_asgi.url
    trader = make_user(email="journey.trader@example.com")
    in_worker(lambda: trade_a_day(D("54000")))  # candles for the wizard's chart and auto range
    context = browser.new_context(viewport=DESKTOP)
    context.add_init_script(WATCH_SOCKET)
    page = sign_in_browser(context.new_page(), base_url, trader.email)

    add_paper_account(page, base_url)
    account = ExchangeAccount.objects.get(owner=trader)
    assert account.exchange == ExchangeName.PAPER

    build_a_grid_in_the_wizard(page, base_url, artifacts)
    bot = Bot.objects.get(owner=trader)
    assert page.url == f"{base_url}/bots/{bot.pk}/"
    assert (bot.exchange_account, bot.grid_config.grid_count) == (account, 5)
    assert bot.grid_config.investment == D("2000")
    expect(page.locator("[data-bot-status]")).to_have_text("Starting")
    wait_for_socket(page)
    page.wait_for_function("window.__live.messages >= 2")  # caught up, and the tab it shows
    page.evaluate("window.__sameDocument = true")

    # The worker's first ticks buy the base and lay out the grid; the page follows.
    bot = in_worker(lambda: tick(tick(bot)))
    assert bot.status == BotStatus.RUNNING
    expect(page.locator("[data-bot-status]")).to_have_text("Running")
    expect(page.locator("#bot-orders tr[data-order]")).to_have_count(5)

    page.locator(".tabs").get_by_role("link", name="Trades").click()
    expect(page.locator("[data-live-tab]")).to_have_attribute("data-live-tab", "trades")
    expect(page.locator("#bot-fills tr[data-trade]")).to_have_count(1)  # the start trade
    page.wait_for_function("window.__live.messages >= 4")  # the socket knows the tab now

    def the_market_falls_through_a_buy() -> Bot:
        market.set_price("BTCUSDT", D("52900"))  # crosses the 53,000 buy
        return tick(bot)

    bot = in_worker(the_market_falls_through_a_buy)
    expect(page.locator("#bot-fills tr[data-trade]")).to_have_count(2)
    expect(page.locator("#bot-fills")).to_contain_text("53,000.0")
    assert page.evaluate(SAME_DOCUMENT), "the fill arrived in place, not by a reload"
    page.wait_for_timeout(600)  # let the chart draw its candles
    shoot(page, artifacts, "bot-detail-fills")

    page.locator(".tabs").get_by_role("link", name="Active orders").click()
    expect(page.locator("#bot-orders tr[data-order]")).to_have_count(5)
    page.get_by_role("button", name="Stop", exact=True).click()  # a plain form: a new page
    expect(page.get_by_text("is stopping")).to_be_visible()
    expect(page.locator("[data-bot-status]")).to_have_text("Stopping")
    wait_for_socket(page)
    page.wait_for_function("window.__live.messages >= 2")
    page.evaluate("window.__sameDocument = true")

    bot = in_worker(lambda: settle(bot))  # the engine cancels the grid
    assert bot.status == BotStatus.STOPPED
    expect(page.locator("[data-bot-status]")).to_have_text("Stopped")
    expect(page.locator("#bot-orders tr[data-order]")).to_have_count(0)
    assert page.evaluate(SAME_DOCUMENT), "the orders went in place, not by a reload"

    nav(page).get_by_role("link", name="Dashboard").click()
    page.wait_for_url(f"{base_url}/")
    row = page.locator(f"#bot-row-{bot.pk}")
    expect(row).to_contain_text(bot.name)
    expect(row.locator(".badge")).to_have_text("Stopped")
    recent = page.locator("#dashboard-fills tbody tr")
    expect(recent.first).to_contain_text(bot.name)
    expect(page.locator("#dashboard-fills")).to_contain_text("53,000")
    shoot(page, artifacts, "dashboard")
    context.close()
