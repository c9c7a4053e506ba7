"""The live sockets through the real ASGI stack (origin check, session auth, routing) and the
real Redis channel layer: engine events reach their owner's pages as fragments, nobody else's."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from django.conf import settings
from django.db import connection, transaction
from django.test import Client

from accounts.models import User
from accounts.tests.factories import make_user
from bots import actions, consumers, live
from bots.models import Bot
from bots.tests.sockets import WebsocketCommunicator
from bots.tests.test_engine import started, tick
from config.asgi import application
from exchanges.paper import market

pytestmark = pytest.mark.django_db(transaction=True)

D = Decimal
WAIT = 5


def session_for(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def socket(path: str, session: str | None = None) -> WebsocketCommunicator:
    headers = [(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1")]
    if session:
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={session}".encode()))
    return WebsocketCommunicator(application, path, headers=headers)


async def closed_with(communicator: WebsocketCommunicator) -> int | None:
    connected, _ = await communicator.connect()
    assert connected, "accepted, then closed with a code the page can read"
    message = await communicator.receive_output(WAIT)
    assert message["type"] == "websocket.close"
    return message.get("code")


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    """On a thread of its own: once the suite's Playwright browser is up, it keeps an event loop
    on the main thread, where async_to_sync refuses to run."""

    async def with_fresh_layer() -> None:
        try:
            await scenario()
        finally:
            await get_channel_layer().flush()

    def in_thread() -> None:
        try:
            async_to_sync(with_fresh_layer)()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as thread:
        thread.submit(in_thread).result()


@pytest.fixture
def dashboard_stand_in(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Keeps the dashboard renderer's contract (`burst_fragments(user, events) -> str`, one
    rendering per burst) and records what it was asked to render, to test the socket's routing
    and coalescing on their own, one entry per event.
    `test_the_dashboard_socket_carries_the_real_dashboards_fragments` runs the real one."""
    calls: list[dict[str, Any]] = []

    def burst_fragments(user: User, events: list[dict[str, Any]]) -> str:
        calls.extend({"user": user.pk, **event} for event in events)
        return "".join(
            f'<div id="dash-{event.get("bot_id")}" data-kinds="{",".join(event.get("kinds", []))}"></div>'
            for event in events
        )

    # Only the function: the module itself also serves the site root (config/urls.py imports it).
    monkeypatch.setattr("bots.views.dashboard.burst_fragments", burst_fragments)
    return calls


def test_signed_out_and_other_traders_cannot_open_a_bots_socket(paper_bot: Bot) -> None:
    outsider = session_for(make_user(email="outsider@example.com"))
    owner = session_for(paper_bot.owner)

    async def scenario() -> None:
        assert await closed_with(socket(f"/ws/bots/{paper_bot.pk}/")) == 4401
        assert await closed_with(socket("/ws/live/")) == 4401
        assert await closed_with(socket(f"/ws/bots/{paper_bot.pk}/", outsider)) == 4404
        assert await closed_with(socket(f"/ws/bots/{paper_bot.pk + 1000}/", owner)) == 4404
        stranger_origin = WebsocketCommunicator(
            application, f"/ws/bots/{paper_bot.pk}/", headers=[(b"origin", b"http://evil.example")]
        )
        connected, _ = await stranger_origin.connect()
        assert not connected

    run(scenario)


def test_an_engine_fill_reaches_the_owners_pages_and_no_one_elses(
    paper_bot: Bot, dashboard_stand_in: list[dict[str, Any]]
) -> None:
    bot = started(paper_bot)
    outsider_user = make_user(email="outsider@example.com")
    outsider_bot = actions.do_create_bot(
        outsider_user, bot.exchange_account, "Not theirs", bot.grid_config, D("54000")
    )
    owner, outsider = session_for(bot.owner), session_for(outsider_user)

    async def scenario() -> None:
        page = socket(f"/ws/bots/{bot.pk}/", owner)
        assert (await page.connect())[0]
        catch_up = await page.receive_from(WAIT)
        assert (
            '<section id="bot-header" class="bot-header" aria-live="polite" hx-swap-oob="true">' in catch_up
        )
        assert 'data-bot-status="running"' in catch_up
        await page.send_to(text_data=json.dumps({"tab": "trades"}))
        trades_before = await page.receive_from(WAIT)
        assert trades_before.count("<tr data-trade=") == 1  # the start trade

        dashboard, strangers_dashboard = socket("/ws/live/", owner), socket("/ws/live/", outsider)
        strangers_bot_page = socket(f"/ws/bots/{outsider_bot.pk}/", outsider)
        for communicator in (dashboard, strangers_dashboard, strangers_bot_page):
            assert (await communicator.connect())[0]
            await communicator.receive_from(WAIT)  # each page catches up

        def fill_a_grid_buy() -> None:
            market.set_price("BTCUSDT", D("52900"))
            tick(bot)

        await database_sync_to_async(fill_a_grid_buy)()

        update = await page.receive_from(WAIT)
        assert update.count("<tr data-trade=") == 2
        assert "53,000.0" in update
        assert 'id="bot-header"' in update, "the PnL changed"
        assert 'id="bot-chart-data"' in update
        # The fill is rendered the moment it arrives; the tick's counter-order follows in at
        # most one more message (none when it landed before that render began).
        assert len(await whatever_follows(page)) <= 1

        assert f'id="dash-{bot.pk}"' in await dashboard.receive_from(WAIT)
        assert await strangers_dashboard.receive_nothing(0.5)
        assert await strangers_bot_page.receive_nothing(0.1)
        for communicator in (page, dashboard, strangers_dashboard, strangers_bot_page):
            await communicator.disconnect()

    run(scenario)
    seen_by = {call["user"] for call in dashboard_stand_in if call["kind"] != "connect"}
    assert seen_by == {bot.owner_id}


def test_a_burst_of_events_is_rendered_once(paper_bot: Bot, dashboard_stand_in: list[dict[str, Any]]) -> None:
    owner = session_for(paper_bot.owner)

    def burst() -> None:
        for kind in ("order", "order", "fill", "order", "status"):
            with transaction.atomic():
                live.publish(paper_bot, kind, {})

    async def scenario() -> None:
        page, dashboard = socket(f"/ws/bots/{paper_bot.pk}/", owner), socket("/ws/live/", owner)
        for communicator in (page, dashboard):
            assert (await communicator.connect())[0]
            await communicator.receive_from(WAIT)
        await page.send_to(text_data=json.dumps({"tab": "events"}))
        await page.receive_from(WAIT)

        await database_sync_to_async(burst)()

        on_page, on_dashboard = await everything(page), await everything(dashboard)
        # Five events: the first is rendered at once, the rest together, never each on its own.
        assert 1 <= len(on_page) <= 2
        # The last render has everything the burst changed: header, actions (a status
        # changed), chart data, the events tab.
        assert on_page[-1].count('hx-swap-oob="true"') == 4
        assert 1 <= len(on_dashboard) <= 2
        kinds = {
            kind for html in on_dashboard for kind in html.split('data-kinds="')[1].split('"')[0].split(",")
        }
        assert kinds == {"fill", "order", "status"}

    run(scenario)


def test_an_event_after_a_quiet_spell_goes_at_once_and_one_right_after_it_waits_out_the_spell(
    paper_bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A fill's way to the screen: no waiting for a burst that may never come."""
    monkeypatch.setattr(consumers, "COALESCE_SECONDS", 2.0)  # wide enough to tell "at once" apart
    owner = session_for(paper_bot.owner)

    def publish(kind: str) -> None:
        with transaction.atomic():
            live.publish(paper_bot, kind, {})

    async def scenario() -> None:
        page = socket(f"/ws/bots/{paper_bot.pk}/", owner)
        assert (await page.connect())[0]
        await page.receive_from(WAIT)  # the catch-up render starts a spell
        await asyncio.sleep(2.2)

        await database_sync_to_async(publish)("fill")
        assert 'id="bot-header"' in await page.receive_from(1.0), "rendered at once"
        await database_sync_to_async(publish)("order")
        assert await page.receive_nothing(1.0), "held: the fill's render began a spell"
        assert 'id="bot-chart-data"' in await page.receive_from(WAIT)
        await page.disconnect()

    run(scenario)


async def everything(communicator: WebsocketCommunicator) -> list[str]:
    """At least one message, then every one until the socket stays quiet for half a second."""
    return [await communicator.receive_from(WAIT), *await whatever_follows(communicator)]


async def whatever_follows(communicator: WebsocketCommunicator) -> list[str]:
    """Every message until the socket stays quiet for half a second, perhaps none."""
    messages = []
    while not await communicator.receive_nothing(0.5):
        messages.append(await communicator.receive_from(WAIT))
    return messages


def test_a_reconnecting_page_catches_up_at_once(paper_bot: Bot) -> None:
    owner = session_for(paper_bot.owner)

    async def scenario() -> None:
        first = socket(f"/ws/bots/{paper_bot.pk}/", owner)
        assert (await first.connect())[0]
        assert 'data-bot-status="draft"' in await first.receive_from(WAIT)
        await first.disconnect()

        await database_sync_to_async(actions.do_start_bot)(paper_bot)  # missed while away

        again = socket(f"/ws/bots/{paper_bot.pk}/", owner)
        assert (await again.connect())[0]
        assert 'data-bot-status="starting"' in await again.receive_from(WAIT)
        await again.disconnect()

    run(scenario)


FRAGMENT_OPENINGS = ("<section id=", '<template><tr id="bot-row-')


def fragment(html: str, opening: str) -> str:
    """The element `html` holds that starts with `opening`, up to the next top-level fragment."""
    assert opening in html, html[:2000]
    start = html.index(opening)
    ends = [at for tag in FRAGMENT_OPENINGS if (at := html.find(tag, start + 1)) >= 0]
    return html[start : min(ends, default=len(html))]


def test_the_dashboard_socket_carries_the_real_dashboards_fragments(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    owner, outsider = session_for(bot.owner), session_for(make_user(email="outsider@example.com"))

    async def scenario() -> None:
        dashboard, strangers_dashboard = socket("/ws/live/", owner), socket("/ws/live/", outsider)
        for communicator in (dashboard, strangers_dashboard):
            assert (await communicator.connect())[0]

        catch_up = await dashboard.receive_from(WAIT)
        cards = fragment(catch_up, '<section id="dashboard-cards"')
        assert 'hx-swap-oob="true"' in cards.split(">", 1)[0]
        assert '<h2>Running bots</h2><p class="stat-value">1</p>' in cards
        assert '<h2>Open orders</h2><p class="stat-value">5</p>' in cards
        assert "USDT" in cards, "the totals per quote asset"
        assert bot.name in fragment(catch_up, '<section id="dashboard-fills"'), "the start trade"
        strangers_catch_up = await strangers_dashboard.receive_from(WAIT)
        assert '<h2>Running bots</h2><p class="stat-value">0</p>' in strangers_catch_up
        assert bot.name not in strangers_catch_up

        def fill_a_grid_buy() -> None:
            market.set_price("BTCUSDT", D("52900"))  # crosses the 53,000 buy
            tick(bot)

        await database_sync_to_async(fill_a_grid_buy)()

        update = "".join(await everything(dashboard))
        fills = fragment(update, '<section id="dashboard-fills"')
        assert 'hx-swap-oob="true"' in fills.split(">", 1)[0]
        newest = fills.split("<tbody>", 1)[1].split("</tr>", 1)[0]
        assert '<td data-label="Price">53,000</td>' in newest
        assert bot.name in newest
        assert "Buy" in newest
        row = fragment(update, f'<tr id="bot-row-{bot.pk}"')
        assert 'hx-swap-oob="true"' in row.split(">", 1)[0]
        assert "Running" in row
        cards = fragment(update, '<section id="dashboard-cards"')
        assert '<h2>Open orders</h2><p class="stat-value">5</p>' in cards
        assert await strangers_dashboard.receive_nothing(0.5), "another trader's fill is not theirs to see"
        for communicator in (dashboard, strangers_dashboard):
            await communicator.disconnect()

    run(scenario)


def test_a_page_gone_during_a_render_is_not_an_error() -> None:
    """A navigation closes the socket while its fragments render; the send then fails with the
    server's OSError, which must not surface as an unhandled task error."""
    from uvicorn.protocols.utils import ClientDisconnected

    from bots.consumers import BotConsumer

    consumer = BotConsumer()
    consumer.joined = True  # as after a handshake, with its session just checked
    consumer.session_checked_at = time.monotonic()
    consumer.pending = [{"type": "bot.event", "kind": "fill"}]
    consumer.render = lambda event: "<div>fragment</div>"  # type: ignore[method-assign]

    async def gone(message: dict[str, Any]) -> None:
        raise ClientDisconnected()

    consumer.base_send = gone

    async def scenario() -> None:
        await consumer.send_render({"type": "bot.event", "kind": "fill"})

    run(scenario)
    assert consumer.pending == []


def test_a_page_idle_longer_than_the_layers_blocking_read_still_gets_events(paper_bot: Bot) -> None:
    """channels-redis waits for messages with a blocking pop of `brpop_timeout` seconds; a Redis
    read timeout no longer than that used to end the consumer of every quiet page."""
    bot = started(paper_bot)
    owner = session_for(bot.owner)

    async def scenario() -> None:
        page = socket(f"/ws/bots/{bot.pk}/", owner)
        assert (await page.connect())[0]
        await page.receive_from(WAIT)  # the catch-up
        await asyncio.sleep(get_channel_layer().brpop_timeout + 1.5)

        await get_channel_layer().group_send(
            live.bot_group(bot.pk), {"type": "bot.event", "kind": "status", "bot_id": bot.pk}
        )

        assert 'id="bot-header"' in await page.receive_from(WAIT)
        await page.disconnect()

    run(scenario)


def test_a_refused_socket_that_still_speaks_is_ignored(paper_bot: Bot) -> None:
    """A page keeps sending its tab after the server closed the socket (signed out, not its
    bot); the message must be dropped quietly, not crash the consumer."""
    outsider = session_for(make_user(email="outsider@example.com"))

    async def scenario() -> None:
        for session, code in ((None, 4401), (outsider, 4404)):
            refused = socket(f"/ws/bots/{paper_bot.pk}/", session)
            assert await closed_with(refused) == code
            await refused.send_to(text_data=json.dumps({"tab": "trades"}))
            assert await refused.receive_nothing(0.3)
            await refused.disconnect()

    run(scenario)
