"""A trader keeps the dashboard open while a bot trades: its row and the totals change together,
as fills arrive over the live socket, and a bot created elsewhere appears without a reload."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from accounts.models import User
from bots import actions
from bots.models import Bot
from bots.tests.asgi import AsgiServer, in_worker, wait_for_socket
from bots.tests.factories import grid_config
from bots.tests.test_detail_browser import DESKTOP, PHONE, signed_in
from bots.tests.test_engine import started, tick
from exchanges.models import ExchangeAccount
from exchanges.paper import market

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

D = Decimal


def watch_console(page) -> list[str]:
    """Every error the page logs (htmx logs a swap without a target as one); the browser's own
    request for a favicon, which the site does not serve, is not the page's."""
    errors: list[str] = []

    def seen(message) -> None:
        if message.type == "error" and not message.location.get("url", "").endswith("/favicon.ico"):
            errors.append(message.text)

    page.on("console", seen)
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


def test_fills_change_the_row_and_the_totals_live_and_a_new_bot_appears(
    live_server_asgi: AsgiServer, browser, artifacts: Path, paper_bot: Bot, trader: User
) -> None:
    from playwright.sync_api import expect

    bot = in_worker(lambda: started(paper_bot))
    context = signed_in(browser, bot, live_server_asgi.url)
    page = context.new_page()
    errors = watch_console(page)
    page.goto(f"{live_server_asgi.url}/")
    wait_for_socket(page)
    page.wait_for_function("window.__live.messages >= 1")  # the catch-up render
    row_pnl = page.locator(f"#bot-row-{bot.pk} td[data-label=PnL]")
    tile_pnl = page.locator("#dashboard-cards .stat:has(h2:text-is('Total PnL')) .stat-value")
    before = row_pnl.inner_text()
    assert tile_pnl.inner_text() == before

    in_worker(lambda: market.set_price("BTCUSDT", D("52900")))  # crosses the 53,000 buy
    in_worker(lambda: tick(bot))
    expect(row_pnl).not_to_have_text(before)
    expect(page.locator(f"#bot-row-{bot.pk} td[data-label='Last fill']")).not_to_contain_text("None yet")
    expect(tile_pnl).to_have_text(row_pnl.inner_text())
    moved = row_pnl.inner_text()

    in_worker(lambda: market.set_price("BTCUSDT", D("57100")))  # back up through the sells
    in_worker(lambda: tick(bot))
    expect(row_pnl).not_to_have_text(moved)
    expect(tile_pnl).to_have_text(row_pnl.inner_text())
    # The equity chart's newest point follows the card.
    equity_card = page.locator("#dashboard-cards .stat:has(h2:text-is('Equity in live bots')) .stat-value")
    card_figure = equity_card.inner_text().split()[0]
    chart = page.locator(".equity-chart")
    page.wait_for_function(
        "([el, figure]) => el.dataset.lastValue && Number(el.dataset.lastValue).toLocaleString('en-US', "
        "{minimumFractionDigits: 2, maximumFractionDigits: 2}) === figure",
        arg=[chart.element_handle(), card_figure],
    )

    def create() -> Bot:
        account = ExchangeAccount.objects.owned_by(trader).get()
        config = grid_config()
        return actions.do_create_bot(trader, account, "Created elsewhere", config, D("57100"))

    created = in_worker(create)
    expect(page.locator(f"#bot-row-{created.pk}")).to_contain_text("Created elsewhere")
    expect(page.locator(f"#bot-row-{bot.pk}")).to_be_visible()
    page.screenshot(path=artifacts / "dashboard-live-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.screenshot(path=artifacts / "dashboard-live-phone.png", full_page=True)
    page.set_viewport_size(DESKTOP)
    assert errors == []
    context.close()
