"""One bot, every place its numbers are shown: after fills arrive over the live sockets, the
dashboard's cards and row, the bot page, the API and the equity chart say the same, to the last
digit they show, and the parts add up to the total."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest

from accounts.tests.api import bearer
from bots.models import Bot
from bots.tests.asgi import AsgiServer, in_worker, wait_for_socket
from bots.tests.test_dashboard_live_browser import watch_console
from bots.tests.test_detail_browser import PHONE, signed_in
from bots.tests.test_engine import started, tick
from exchanges.paper import market
from trading.templatetags.money import format_amount

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

D = Decimal
CENT = D("0.01")


def shown(text: str) -> Decimal:
    """The figure in a displayed amount: "▼ -1,234.56 USDT" is -1234.56."""
    found = re.search(r"[-+]?[\d,]+(?:\.\d+)?", text.replace("\u2212", "-"))
    assert found is not None, text
    return D(found[0].replace(",", ""))


def cents(value: str | Decimal) -> Decimal:
    return D(format_amount(value, CENT).replace(",", ""))


def test_every_page_and_the_api_agree_on_a_bots_numbers_as_fills_arrive(
    live_server_asgi: AsgiServer, browser, artifacts: Path, paper_bot: Bot
) -> None:
    from playwright.sync_api import expect

    bot = in_worker(lambda: started(paper_bot))
    context = signed_in(browser, bot, live_server_asgi.url)
    dashboard, bot_page = context.new_page(), context.new_page()
    errors = watch_console(dashboard) + watch_console(bot_page)
    dashboard.goto(f"{live_server_asgi.url}/")
    bot_page.goto(f"{live_server_asgi.url}/bots/{bot.pk}/")
    for page in (dashboard, bot_page):
        wait_for_socket(page)
        page.wait_for_function("window.__live.messages >= 1")

    def card(title: str):
        return dashboard.locator(f"#dashboard-cards .stat:has(h2:text-is('{title}')) .stat-value")

    def fact(title: str):
        return bot_page.locator(f"#bot-header .bot-facts div:has(dt:text-is('{title}')) dd")

    row_pnl = dashboard.locator(f"#bot-row-{bot.pk} td[data-label=PnL]")
    before = row_pnl.inner_text()

    # Down through the 53,000 buy, then up through the 57,000 sell: a round trip, base still held.
    def trade_at(price: str) -> None:
        market.set_price("BTCUSDT", D(price))
        tick(bot)

    for price in ("52900", "57100"):
        in_worker(lambda: trade_at(price))  # noqa: B023 - run at once, inside the loop
    expect(row_pnl).not_to_have_text(before)  # the fills arrived live, no reload
    expect(dashboard.locator("#dashboard-fills")).to_contain_text("57,000")
    expect(bot_page.locator("#bot-header")).to_contain_text("57,100")  # the page's price is the mark

    api = bearer(bot.owner).get(f"/api/v1/bots/{bot.pk}/pnl/").json()
    total, equity = D(api["total_pnl"]), D(api["equity"])
    grid, unrealized = D(api["grid_profit"]), D(api["unrealized_pnl"])
    assert D(api["mark_price"]) == D("57100")
    assert D(api["round_trips"]) == 1

    # The sum holds exactly: fees in the pair's assets are already inside grid profit and
    # unrealized, so only fees in a third asset (none here) are taken from them.
    assert total == grid + unrealized - D(api["fees_not_netted"])
    assert total == equity - D(api["investment"])
    assert D(api["fees_not_netted"]) == 0
    assert D(api["fees_quote"]) > 0

    # The same figures everywhere, to the cent each shows.
    expect(card("Total PnL")).to_have_text(re.compile(re.escape(format_amount(total, CENT, signed=True))))
    figures = {
        "dashboard total": shown(card("Total PnL").inner_text()),
        "dashboard today": shown(card("Today\u2019s PnL").inner_text()),  # the run began today
        "dashboard row": shown(row_pnl.inner_text()),
        "bot page total": shown(fact("Total PnL").inner_text()),
        "api": cents(total),
    }
    assert set(figures.values()) == {cents(total)}, figures
    assert shown(card("Grid profit").inner_text()) == cents(grid)
    assert shown(fact("Grid profit").inner_text()) == cents(grid)
    assert shown(fact("Unrealized").inner_text()) == cents(unrealized)
    fees = bot_page.locator("#bot-header .bot-facts div:has([data-fees-netted])")
    expect(fees.locator("dt")).to_have_text("Fees (netted above)")
    assert shown(fees.locator("dd").inner_text()) == cents(D(api["fees_quote"]))
    expect(bot_page.locator(".pnl-identity")).to_contain_text("Total PnL = grid profit + unrealized.")

    chart = dashboard.locator(".equity-chart")
    expect(chart).to_have_attribute("data-last-value", re.compile(r"."))
    assert D(chart.get_attribute("data-last-value") or "") == equity  # the chart's newest point
    assert shown(card("Equity in live bots").inner_text()) == cents(equity)

    dashboard.screenshot(path=artifacts / "numbers-dashboard.png", full_page=True)
    bot_page.screenshot(path=artifacts / "numbers-bot-page.png", full_page=True)
    bot_page.set_viewport_size(PHONE)
    bot_page.screenshot(path=artifacts / "numbers-bot-page-phone.png")
    assert errors == []
    context.close()
