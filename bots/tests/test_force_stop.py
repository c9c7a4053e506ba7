"""Force stop: a bot whose exchange is gone is marked stopped without reaching it, after a page
that says so; the orders that may still be open there stay listed on the bot's page."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from django.test import Client
from drf_spectacular.generators import SchemaGenerator

from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots import actions
from bots.models import Bot, BotEvent, BotStatus
from bots.tasks import stop_bot_now
from bots.tests.asgi import AsgiServer
from bots.tests.test_detail_browser import DESKTOP, PHONE, _fits_the_screen, signed_in
from bots.tests.test_faults import simulator
from bots.tests.test_stop_now import running_bot
from exchanges.simulator.server import BybitSimulator
from trading.models import OrderStatus

__all__ = ["simulator"]


def stop_with_the_venue_gone(simulator: BybitSimulator) -> Bot:
    """A running Bybit bot whose emergency stop met a venue that is gone: in error, 5 orders unconfirmed."""
    bot = running_bot(simulator)
    simulator.stop()
    actions.do_emergency_stop(bot)
    stop_bot_now(bot.pk)
    bot.refresh_from_db()
    assert bot.status == BotStatus.ERROR
    return bot


def grid_ids(bot: Bot) -> set[str]:
    return set(bot.orders.filter(purpose="grid").values_list("client_order_id", flat=True))


def test_force_stop_from_the_bot_page_lists_what_may_still_be_open(simulator: BybitSimulator) -> None:
    bot = stop_with_the_venue_gone(simulator)
    client = Client()
    client.force_login(bot.owner)
    page = client.get(f"/bots/{bot.pk}/").content.decode()
    assert f'href="/bots/{bot.pk}/force-stop/"' in page

    started = time.monotonic()
    confirm = client.get(f"/bots/{bot.pk}/force-stop/")
    assert time.monotonic() - started < 2, "the page never waits on the exchange it explains is gone"
    text = confirm.content.decode()
    assert confirm.status_code == 200
    assert "stopped without reaching Bybit" in text
    assert "5 orders may still be open on Bybit" in text
    for order in bot.orders.filter(purpose="grid"):
        assert f'data-may-be-open="{order.client_order_id}"' in text
        assert f'<td data-label="Price">{order.price.normalize():,f}</td>' in text
    assert bot.orders.get(client_order_id=order.client_order_id).status == OrderStatus.OPEN  # nothing yet

    answer = client.post(f"/bots/{bot.pk}/force-stop/", follow=True)

    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPED
    assert bot.status_reason == ""
    assert bot.stopped_at is not None
    page = answer.content.decode()
    assert "is marked stopped without reaching Bybit. 5 orders may still be open on Bybit" in page
    assert "5 orders may still be open on Bybit" in page
    for client_order_id in grid_ids(bot):
        assert f'data-may-be-open="{client_order_id}"' in page
    assert f'href="/bots/{bot.pk}/force-stop/"' not in page, "a stopped bot has nothing to force"
    assert BotEvent.objects.filter(
        bot=bot, message__startswith="Force stopped without reaching Bybit."
    ).exists()


@pytest.mark.django_db
def test_force_stop_is_only_for_a_stop_that_cannot_finish(paper_bot: Bot) -> None:
    bot = actions.do_start_bot(paper_bot)
    Bot.objects.filter(pk=bot.pk).update(status=BotStatus.RUNNING)
    client = Client()
    client.force_login(bot.owner)

    for answer in (client.get(f"/bots/{bot.pk}/force-stop/"), client.post(f"/bots/{bot.pk}/force-stop/")):
        assert answer.status_code == 302
        assert answer["Location"] == f"/bots/{bot.pk}/"
    bot.refresh_from_db()
    assert bot.status == BotStatus.RUNNING
    assert 'force-stop/"' not in client.get(f"/bots/{bot.pk}/").content.decode()

    api = bearer(bot.owner).post(f"/api/v1/bots/{bot.pk}/force-stop/")
    assert api.status_code == 409
    assert error_of(api)["code"] == "invalid_transition"


@pytest.mark.django_db
def test_another_traders_bot_cannot_be_force_stopped(paper_bot: Bot) -> None:
    Bot.objects.filter(pk=paper_bot.pk).update(status=BotStatus.ERROR)
    stranger = make_user(email="stranger@example.com")
    client = Client()
    client.force_login(stranger)

    assert client.get(f"/bots/{paper_bot.pk}/force-stop/").status_code == 404
    assert client.post(f"/bots/{paper_bot.pk}/force-stop/").status_code == 404
    assert bearer(stranger).post(f"/api/v1/bots/{paper_bot.pk}/force-stop/").status_code == 404
    paper_bot.refresh_from_db()
    assert paper_bot.status == BotStatus.ERROR


def test_force_stop_through_the_api_returns_what_may_still_be_open(simulator: BybitSimulator) -> None:
    bot = stop_with_the_venue_gone(simulator)
    expected = {
        order.client_order_id: (order.side, f"{order.price.normalize():f}", f"{order.quantity.normalize():f}")
        for order in bot.orders.filter(purpose="grid")
    }

    answer = bearer(bot.owner).post(f"/api/v1/bots/{bot.pk}/force-stop/")

    assert answer.status_code == 200, answer.content
    body = answer.json()
    assert body["bot"]["status"] == "stopped"
    listed = {o["client_order_id"]: (o["side"], o["price"], o["quantity"]) for o in body["may_be_open"]}
    assert listed == expected
    assert all(o["cancel_unconfirmed_since"] for o in body["may_be_open"])


def test_the_schema_documents_force_stop() -> None:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    operation = schema["paths"]["/api/v1/bots/{id}/force-stop/"]["post"]
    assert operation["summary"] == "Force-stop a bot"
    assert {"200", "404", "409"} <= set(operation["responses"])


@pytest.mark.browser
@pytest.mark.slow
def test_force_stop_in_a_browser_at_desktop_and_phone_widths(
    simulator: BybitSimulator, live_server_asgi: AsgiServer, browser: object, artifacts: Path
) -> None:
    bot = stop_with_the_venue_gone(simulator)
    context = signed_in(browser, bot, live_server_asgi.url)
    page = context.new_page()
    page.goto(f"{live_server_asgi.url}/bots/{bot.pk}/")
    page.screenshot(path=str(artifacts / "force-stop-1-error-desktop.png"), full_page=True)
    page.get_by_role("link", name="Force stop…").click()
    page.wait_for_url(f"**/bots/{bot.pk}/force-stop/")
    assert page.locator("#force-stop-orders tbody tr").count() == 5
    page.screenshot(path=str(artifacts / "force-stop-2-confirm-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert _fits_the_screen(page)
    page.screenshot(path=str(artifacts / "force-stop-2-confirm-phone.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    page.get_by_role("button", name="Mark it stopped").click()
    page.wait_for_url(f"**/bots/{bot.pk}/")
    assert page.locator("[data-bot-status]").first.get_attribute("data-bot-status") == "stopped"
    assert page.locator("#may-be-open tbody tr").count() == 5
    page.screenshot(path=str(artifacts / "force-stop-3-stopped-desktop.png"), full_page=True)
    page.set_viewport_size(PHONE)
    assert _fits_the_screen(page)
    page.screenshot(path=str(artifacts / "force-stop-3-stopped-phone.png"), full_page=True)
    context.close()
