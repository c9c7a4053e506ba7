"""A trader edits a stopped bot from the dashboard's row menu, clones it, and deletes the copy and
then the original, whose confirmation says its trades go with it: on a desktop and a phone."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots import actions
from bots.models import Bot, BotStatus
from bots.tests.asgi import AsgiServer, in_worker
from bots.tests.test_detail_browser import DESKTOP, PHONE, signed_in
from bots.tests.test_engine import settle, started

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _stopped(bot: Bot) -> Bot:
    bot = started(bot)
    actions.do_stop_bot(bot)
    return settle(bot)


def _fits(page) -> bool:
    return bool(page.evaluate("document.documentElement.scrollWidth <= window.innerWidth"))


def _both_widths(page, artifacts: Path, name: str) -> None:
    page.screenshot(path=artifacts / f"{name}-desktop.png", full_page=True)
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(300)
    assert _fits(page), f"{name} is wider than a phone"
    page.screenshot(path=artifacts / f"{name}-phone.png", full_page=True)
    page.set_viewport_size(DESKTOP)


def test_edit_clone_and_delete_from_the_pages(
    live_server_asgi: AsgiServer, browser, artifacts: Path, paper_bot: Bot
) -> None:
    from playwright.sync_api import expect

    bot = in_worker(lambda: _stopped(paper_bot))
    assert bot.status == BotStatus.STOPPED
    fills = in_worker(lambda: bot.fills.count())
    context = signed_in(browser, bot, live_server_asgi.url)
    page = context.new_page()

    # The dashboard's row menu leads to the edit page, prefilled.
    page.goto(f"{live_server_asgi.url}/")
    row = page.locator(f"#bot-row-{bot.pk}")
    row.get_by_text("More").click()
    expect(row.get_by_role("link", name="Edit settings")).to_be_visible()
    _both_widths(page, artifacts, "bot-row-menu")
    row.get_by_role("link", name="Edit settings").click()
    expect(page.get_by_role("heading", name="Edit “BTC grid”")).to_be_visible()
    expect(page.get_by_label("Grids")).to_have_value("5")
    expect(page.get_by_test_id("profit-per-grid")).to_be_visible()
    page.get_by_label("Grids").fill("6")
    page.get_by_label("Name").fill("BTC grid wide")
    expect(page.locator("#wizard-preview .levels-table tbody tr")).to_have_count(7)
    page.wait_for_timeout(400)  # the chart draws
    _both_widths(page, artifacts, "bot-edit")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_text("“BTC grid wide” is saved: the next start uses these settings.")).to_be_visible()
    edited = in_worker(lambda: Bot.objects.get(pk=bot.pk))
    assert (edited.name, edited.grid_config.grid_count, edited.status) == (
        "BTC grid wide",
        6,
        BotStatus.STOPPED,
    )
    assert in_worker(lambda: edited.fills.count()) == fills, "editing keeps the trades"

    # Clone: a draft copy, reviewed on its own edit page.
    page.get_by_role("button", name="Clone as new bot").click()
    expect(page.get_by_role("heading", name="Edit “BTC grid wide (copy)”")).to_be_visible()
    copy = in_worker(lambda: Bot.objects.exclude(pk=bot.pk).get())
    assert (copy.status, copy.config) == (BotStatus.DRAFT, edited.config)
    page.get_by_role("button", name="Save changes").click()
    expect(page.locator("[data-bot-status]")).to_have_text("Draft")

    # Deleting the copy that never traded.
    page.get_by_role("link", name="Delete…").click()
    expect(page.get_by_text("It has never traded")).to_be_visible()
    page.get_by_role("button", name="Delete the bot").click()
    expect(page.get_by_text("“BTC grid wide (copy)” and its history are deleted.")).to_be_visible()
    assert not in_worker(lambda: Bot.objects.filter(pk=copy.pk).exists())

    # Deleting the original says its trades go, and offers them as CSV first.
    page.goto(f"{live_server_asgi.url}/bots/{bot.pk}/")
    page.get_by_role("link", name="Delete…").click()
    expect(page.get_by_text("Its history is deleted with it:")).to_be_visible()
    expect(page.get_by_test_id("delete-fills")).to_have_text(f"{fills} trade{'s' if fills != 1 else ''}")
    expect(page.get_by_role("link", name=f"download its {fills} trade")).to_have_attribute(
        "href", f"/trades/export.csv?bot={bot.pk}"
    )
    _both_widths(page, artifacts, "bot-delete")
    page.get_by_role("button", name="Delete the bot and its history").click()
    expect(page.get_by_text("“BTC grid wide” and its history are deleted.")).to_be_visible()
    assert not in_worker(lambda: Bot.objects.filter(pk=bot.pk).exists())
    context.close()


def test_a_running_bot_offers_no_edit_or_delete(
    live_server_asgi: AsgiServer, browser, artifacts: Path, paper_bot: Bot
) -> None:
    from playwright.sync_api import expect

    bot = in_worker(lambda: started(paper_bot))
    context = signed_in(browser, bot, live_server_asgi.url)
    page = context.new_page()
    page.goto(f"{live_server_asgi.url}/bots/{bot.pk}/")
    expect(page.get_by_text("Stop the bot to edit its settings or delete it.")).to_be_visible()
    expect(page.get_by_role("link", name="Edit settings")).to_have_count(0)
    expect(page.get_by_role("link", name="Delete…")).to_have_count(0)
    page.goto(f"{live_server_asgi.url}/bots/{bot.pk}/edit/")
    expect(page.get_by_text("“BTC grid” is running; stop it before editing it.")).to_be_visible()
    _both_widths(page, artifacts, "bot-running-actions")
    context.close()
