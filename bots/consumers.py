"""One websocket per live page. Engine events become server-rendered fragments that htmx's
ws extension swaps in place (`hx-swap-oob`), rendered by the same partials as the page."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings

from accounts.live_sessions import session_group, session_is_live
from accounts.models import User
from bots.live import bot_group, user_group
from bots.models import Bot

logger = logging.getLogger(__name__)

# Close codes the page can tell apart; htmx's ws extension does not retry 4xxx codes.
NOT_SIGNED_IN = 4401
NOT_FOUND = 4404

# A page renders engine events at most once per this many seconds. An event after a quiet
# spell is rendered at once: that is a fill's way to the screen (bench/web.py). What arrives
# during or soon after a render (the rest of a tick's commits, a price move filling many bots)
# is rendered together when the spell ends, so a burst costs two renders, not one per event.
COALESCE_SECONDS = 0.05

Event = dict[str, Any]


class LiveConsumer(AsyncWebsocketConsumer):
    """Shared plumbing: authenticate, join one group, queue renders one at a time."""

    user: User
    group: str

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Set before the handshake: a page may speak on a socket that was refused and closed.
        self.joined = False
        self.pending: list[Event] = []
        self.rendered_at = 0.0  # time.monotonic() when the last render was sent
        self.flushing: asyncio.Task[None] | None = None
        self.session_key: str | None = None
        self.session_checked_at = 0.0  # time.monotonic() of the last check that it still exists

    async def connect(self) -> None:
        await self.accept()  # then close: a refused handshake reaches the browser as 1006 and is retried
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=NOT_SIGNED_IN)
            return
        self.user = user
        session = self.scope.get("session")
        self.session_key = session.session_key if session is not None else None
        self.session_checked_at = time.monotonic()  # the handshake's authentication checked it
        group = await self.group_for_user()
        if group is None:
            await self.close(code=NOT_FOUND)
            return
        self.group = group
        await self.channel_layer.group_add(group, self.channel_name)
        if self.session_key:
            await self.channel_layer.group_add(session_group(self.session_key), self.channel_name)
        self.joined = True
        # Every (re)connect sends the page's current state: that is how it catches up after a drop.
        await self.bot_event(self.catch_up_event())

    async def disconnect(self, code: int) -> None:
        if getattr(self, "group", None):
            await self.channel_layer.group_discard(self.group, self.channel_name)
        if self.session_key:
            await self.channel_layer.group_discard(session_group(self.session_key), self.channel_name)
        if self.flushing is not None:
            self.flushing.cancel()

    async def bot_event(self, event: Event) -> None:
        self.pending.append(event)
        if self.flushing is None:
            self.flushing = asyncio.create_task(self._flush())

    async def _flush(self) -> None:
        """Render what arrived, then again if more came during the render: one render at a time,
        so fragments never arrive out of order."""
        try:
            while self.pending:
                spell = self.rendered_at + COALESCE_SECONDS - time.monotonic()
                if spell > 0 and all(event.get("type") == "bot.event" for event in self.pending):
                    await asyncio.sleep(spell)  # a page's own request goes at once
                events, self.pending = self.pending, []
                await self.send_render(self.merge(events))
                self.rendered_at = time.monotonic()
        finally:
            self.flushing = None

    async def session_ended(self, event: Event) -> None:
        """The session signed out (accounts.live_sessions): nothing more reaches this page."""
        await self.end_signed_out()

    async def end_signed_out(self) -> None:
        if not self.joined:
            return
        self.joined = False
        self.pending.clear()
        await self.close(code=NOT_SIGNED_IN)

    async def session_still_live(self) -> bool:
        """Whether the session still exists, checked at most every LIVE_SESSION_RECHECK_SECONDS:
        a session can end without the signal that closes its sockets (expiry, a flushed store)."""
        now = time.monotonic()
        if now - self.session_checked_at < settings.LIVE_SESSION_RECHECK_SECONDS:
            return True
        live = await database_sync_to_async(session_is_live)(self.session_key, self.user.pk)
        self.session_checked_at = now
        return live

    async def send_render(self, event: Event) -> None:
        if not self.joined:
            return
        if not await self.session_still_live():
            await self.end_signed_out()
            return
        html = await database_sync_to_async(self._render_safely)(event)
        if not html:
            return
        try:
            await self.send(text_data=html)
        except OSError:
            # The page went away during the render (a navigation, a closed tab); ASGI servers
            # raise an OSError for a send after the close. Nothing is left to deliver.
            self.pending.clear()

    def _render_safely(self, event: Event) -> str:
        try:
            return self.render(event)
        except Exception:
            # A broken fragment must not close the page's socket; the next event tries again.
            logger.exception("Could not render live fragments for %s.", event.get("kind"))
            return ""

    def csrf(self) -> Event:
        """The socket's CSRF cookie, so forms in re-rendered fragments post like the first render's."""
        return {"csrf_cookie": self.scope.get("cookies", {}).get(settings.CSRF_COOKIE_NAME)}

    # Per page ------------------------------------------------------------------

    async def group_for_user(self) -> str | None:
        raise NotImplementedError

    def catch_up_event(self) -> Event:
        raise NotImplementedError

    def merge(self, events: list[Event]) -> Event:
        raise NotImplementedError

    def render(self, event: Event) -> str:
        raise NotImplementedError


def merged(events: list[Event]) -> Event:
    """The newest event, plus every kind the burst held under "kinds"."""
    kinds = sorted({kind for event in events for kind in event.get("kinds", [event.get("kind")]) if kind})
    return {**events[-1], "kinds": kinds}


class BotConsumer(LiveConsumer):
    """`ws/bots/<id>/`: one bot's detail page. The page tells which tab it shows: `{"tab": ...}`."""

    tab: str | None = None

    async def group_for_user(self) -> str | None:
        self.bot_id = int(self.scope["url_route"]["kwargs"]["bot_id"])
        owned = await database_sync_to_async(Bot.objects.owned_by(self.user).filter(pk=self.bot_id).exists)()
        return bot_group(self.bot_id) if owned else None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self.joined:
            return  # refused: the close is on its way to the page
        try:
            message = json.loads(text_data or "")
        except ValueError:
            return
        tab = message.get("tab") if isinstance(message, dict) else None
        if isinstance(tab, str) and tab != self.tab:
            self.tab = tab
            await self.bot_event({"type": "live.tab", "kind": "tab", "bot_id": self.bot_id})

    def catch_up_event(self) -> Event:
        return {"type": "live.connect", "kind": "connect", "bot_id": self.bot_id, "kinds": ["connect"]}

    def merge(self, events: list[Event]) -> Event:
        return merged(events)

    def render(self, event: Event) -> str:
        from bots.views import detail

        return detail.live_fragments(self.user, self.bot_id, {**event, "tab": self.tab, **self.csrf()})


class DashboardConsumer(LiveConsumer):
    """`ws/live/`: every bot of the signed-in trader (the dashboard)."""

    async def group_for_user(self) -> str | None:
        return user_group(self.user.pk)

    def catch_up_event(self) -> Event:
        return {"type": "live.connect", "kind": "connect", "bot_id": None, "kinds": ["connect"]}

    def merge(self, events: list[Event]) -> Event:
        if any(event.get("kind") == "connect" for event in events):
            return self.catch_up_event()  # it renders everything anyway
        return {"type": "live.burst", "events": _by_bot(events)}

    def render(self, event: Event) -> str:
        fragments = _dashboard_renderer()
        if fragments is None:
            return ""
        events = event["events"] if event.get("type") == "live.burst" else [event]
        return fragments(self.user, [{**bot_event, **self.csrf()} for bot_event in events])


def _by_bot(events: list[Event]) -> list[Event]:
    """One merged event per bot, in the order the bots last spoke."""
    per_bot: dict[Any, list[Event]] = {}
    for event in events:
        per_bot.setdefault(event.get("bot_id"), []).append(event)
    return [merged(group) for group in per_bot.values()]


def _dashboard_renderer() -> Callable[[User, list[Event]], str] | None:
    """The dashboard's renderer for a burst: one overview and one set of cards for all of it."""
    try:
        from bots.views.dashboard import burst_fragments
    except ImportError:
        return None  # the dashboard's fragments are not part of this build
    return burst_fragments
