"""A trader on a phone reads the dashboard and trade history, then stops every bot."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in_browser
from bots.models import Bot, BotStatus
from bots.tests.test_dashboard import running_bot
from trading.models import EquitySnapshot
from trading.tests.factories import make_fills

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def fits_the_screen(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_dashboard_history_and_stop_all_on_a_phone(live_server, browser, artifacts: Path) -> None:
    trader = make_user(email="phone.dashboard@example.com")
    bots = [running_bot(trader, "BTC tight"), running_bot(trader, "BTC wide")]
    now = timezone.now()
    for bot in bots:
        make_fills(bot, 120, start=now - timedelta(days=2))
        EquitySnapshot.objects.bulk_create(
            EquitySnapshot(
                bot=bot,
                time=now - timedelta(hours=hours),
                price=Decimal(54000),
                equity=Decimal(1000) + Decimal(hours % 7),
                grid_profit=0,
                unrealized_pnl=0,
            )
            for hours in range(0, 48)
        )

    context = browser.new_context(viewport=PHONE)
    page = sign_in_browser(context.new_page(), live_server.url, trader.email)

    expect(page.get_by_role("link", name="BTC tight").first).to_be_visible()
    page.wait_for_selector(".equity-chart canvas")  # lightweight-charts drew the equity
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "dashboard-phone.png", full_page=True)

    page.get_by_role("link", name="Trades", exact=True).click()
    page.wait_for_url(f"{live_server.url}/trades/")
    assert page.locator("tr[id^=fill-]").count() == 50
    page.get_by_label("Side").select_option(label="Sells")  # htmx swaps the results in
    page.wait_for_url("**/trades/?*side=sell*")
    page.wait_for_function("document.querySelectorAll('tr[id^=fill-]').length === 50")
    assert page.locator(".side-buy").count() == 0
    assert fits_the_screen(page)
    page.screenshot(path=artifacts / "trade-history-phone.png", full_page=True)
    page.get_by_role("link", name="Older →").click()
    page.wait_for_url("**after=*")
    assert page.locator(".side-sell").count() > 0

    page.get_by_role("link", name="Dashboard", exact=True).click()
    page.get_by_role("link", name="Stop all bots").click()  # the confirmation comes in over htmx
    page.get_by_role("button", name="Stop all bots now").click()
    page.wait_for_url(f"{live_server.url}/")
    expect(page.get_by_text("Emergency stop: 2 bots stopping")).to_be_visible()
    assert set(Bot.objects.filter(owner=trader).values_list("status", flat=True)) == {BotStatus.STOPPING}

    page.set_viewport_size(DESKTOP)
    page.screenshot(path=artifacts / "dashboard-desktop-bots.png", full_page=True)
    context.close()
