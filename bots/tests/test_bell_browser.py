"""The bell in the top bar counts unread notifications and follows a bot's events live, on any
page; the notifications page marks them read."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots import actions
from bots.models import Bot
from bots.tests.asgi import AsgiServer, in_worker
from bots.tests.test_detail_browser import DESKTOP, PHONE, signed_in
from bots.tests.test_engine import started
from notifications import record

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_mail_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record, "enqueue", lambda delivery_ids: None)


def _fits(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


def test_the_bell_counts_a_bots_events_live_and_the_page_marks_them_read(
    live_server_asgi: AsgiServer, browser, artifacts: Path, paper_bot: Bot
) -> None:
    from playwright.sync_api import expect

    bot = in_worker(lambda: started(paper_bot))  # "BTC grid: bot started"
    context = signed_in(browser, bot, live_server_asgi.url)
    page = context.new_page()
    page.goto(f"{live_server_asgi.url}/trades/")
    count = page.locator("[data-bell-count]")
    expect(count).to_have_text("1")
    expect(page.locator("[data-bell]")).to_have_attribute("data-live", "open")

    in_worker(lambda: actions.do_fail_bot(Bot.objects.get(pk=bot.pk), "API key revoked."))
    expect(count).to_have_text("2")  # no reload
    page.screenshot(path=artifacts / "bell-live-1280.png")

    page.locator("[data-bell]").click()
    expect(page).to_have_url(f"{live_server_asgi.url}/notifications/")
    expect(page.locator(".notification.unread")).to_have_count(2)
    expect(page.locator(".notification").first).to_contain_text("API key revoked.")
    page.screenshot(path=artifacts / "notifications-1280.png", full_page=True)
    assert _fits(page)

    page.set_viewport_size(PHONE)
    page.reload()
    page.screenshot(path=artifacts / "notifications-390.png", full_page=True)
    assert _fits(page)
    page.get_by_role("button", name="Mark all as read").click()
    expect(page.locator(".notification.unread")).to_have_count(0)
    expect(count).to_be_hidden()

    page.goto(f"{live_server_asgi.url}/account/notifications/")
    page.screenshot(path=artifacts / "notification-settings-390.png", full_page=True)
    assert _fits(page)
    page.set_viewport_size(DESKTOP)
    page.reload()
    page.screenshot(path=artifacts / "notification-settings-1280.png", full_page=True)
    context.close()
