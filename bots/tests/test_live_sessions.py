"""A page's live socket ends with its session: signing out, "sign out other sessions" and a
password change close it at once (4401), and a session that ends without a word is caught at
the socket's next render. Real ASGI stack, real Redis channel layer, real sign-in requests."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import transaction
from django.test import Client

from accounts.tests.factories import PASSWORD
from accounts.tests.helpers import sign_in
from bots import live
from bots.models import Bot
from bots.tests.sockets import WebsocketCommunicator
from bots.tests.test_consumers import WAIT, run, socket
from bots.tests.test_engine import started

pytestmark = pytest.mark.django_db(transaction=True)


def signed_in(bot: Bot) -> tuple[Client, str]:
    """A browser signed in through the login form, and its session cookie."""
    client = Client(HTTP_USER_AGENT="Test browser")
    assert sign_in(client, bot.owner.email).status_code == 302
    return client, client.cookies[settings.SESSION_COOKIE_NAME].value


async def opened(path: str, session: str) -> WebsocketCommunicator:
    page = socket(path, session)
    assert (await page.connect())[0]
    await page.receive_from(WAIT)  # the catch-up render
    return page


async def closed_as_signed_out(page: WebsocketCommunicator) -> None:
    message = await page.receive_output(WAIT)
    assert message["type"] == "websocket.close", message
    assert message.get("code") == 4401


async def still_open(page: WebsocketCommunicator, bot: Bot) -> None:
    await page.send_to(text_data=json.dumps({"tab": "events"}))
    assert "hx-swap-oob" in await page.receive_from(WAIT)


def in_thread(call: Callable[[], Any]) -> Any:
    return database_sync_to_async(call)()


def test_signing_out_closes_the_sessions_sockets_and_no_trades_follow(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    browser, session = signed_in(bot)

    async def scenario() -> None:
        bot_page = await opened(f"/ws/bots/{bot.pk}/", session)
        dashboard = await opened("/ws/live/", session)

        response = await in_thread(lambda: browser.post("/accounts/logout/"))
        assert response.status_code == 302

        for page in (bot_page, dashboard):
            await closed_as_signed_out(page)
        await bot_page.send_to(text_data=json.dumps({"tab": "trades"}))
        assert await bot_page.receive_nothing(0.5), "no trades rendered for a signed-out page"

    run(scenario)


def test_signing_out_other_sessions_closes_their_sockets_and_keeps_this_ones(paper_bot: Bot) -> None:
    here, this_session = signed_in(paper_bot)
    _, other_session = signed_in(paper_bot)

    async def scenario() -> None:
        mine = await opened(f"/ws/bots/{paper_bot.pk}/", this_session)
        theirs = await opened(f"/ws/bots/{paper_bot.pk}/", other_session)

        response = await in_thread(lambda: here.post("/accounts/sessions/"))
        assert response.status_code in (200, 302)

        await closed_as_signed_out(theirs)
        await still_open(mine, paper_bot)
        await mine.disconnect()

    run(scenario)


def test_a_password_change_closes_the_other_sessions_sockets(paper_bot: Bot) -> None:
    here, _ = signed_in(paper_bot)
    _, other_session = signed_in(paper_bot)
    new_password = "an-even-longer-passphrase-7"

    async def scenario() -> None:
        theirs = await opened(f"/ws/bots/{paper_bot.pk}/", other_session)

        response = await in_thread(
            lambda: here.post(
                "/accounts/password/change/",
                {"oldpassword": PASSWORD, "password1": new_password, "password2": new_password},
            )
        )
        assert response.status_code == 302

        await closed_as_signed_out(theirs)
        # The browser that changed it stays signed in under its new session key.
        assert (await in_thread(lambda: here.get("/account/security/"))).status_code == 200
        mine = await opened(f"/ws/bots/{paper_bot.pk}/", here.cookies[settings.SESSION_COOKIE_NAME].value)
        await still_open(mine, paper_bot)
        await mine.disconnect()

    run(scenario)


def test_a_session_ended_without_a_signal_is_caught_before_the_next_render(
    paper_bot: Bot, settings: Any
) -> None:
    settings.LIVE_SESSION_RECHECK_SECONDS = 0.0
    _, session = signed_in(paper_bot)

    def publish_fill() -> None:
        with transaction.atomic():
            live.publish(paper_bot, "fill", {})

    def expire_behind_its_back() -> None:
        Session.objects.filter(session_key=session).delete()
        cache.clear()  # the cached_db store's copy too, as an expiry would leave none

    async def scenario() -> None:
        page = await opened(f"/ws/bots/{paper_bot.pk}/", session)
        await in_thread(expire_behind_its_back)
        await in_thread(publish_fill)
        await closed_as_signed_out(page)

    run(scenario)


def test_the_session_is_checked_again_only_after_the_recheck_interval(paper_bot: Bot, settings: Any) -> None:
    settings.LIVE_SESSION_RECHECK_SECONDS = 60.0
    _, session = signed_in(paper_bot)

    def expire_behind_its_back() -> None:
        Session.objects.filter(session_key=session).delete()
        cache.clear()

    async def scenario() -> None:
        page = await opened(f"/ws/bots/{paper_bot.pk}/", session)
        await in_thread(expire_behind_its_back)
        await still_open(page, paper_bot)  # trusted within the interval: no query per render
        await page.disconnect()

    run(scenario)
