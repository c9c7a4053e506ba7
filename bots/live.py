"""Live events to the trader's pages, sent only after the change they announce is committed."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import (
    DEFAULT_CHANNEL_LAYER,
    BaseChannelLayer,
    InMemoryChannelLayer,
    channel_layers,
    get_channel_layer,
)
from django.db import transaction

from bots.webhooks import emit as webhooks

logger = logging.getLogger(__name__)

# A publish waits this long for Redis at most: the change it announces is already committed,
# and a page that misses it catches up on its next event or reconnect.
PUBLISH_TIMEOUT_SECONDS = 5.0


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def bot_group(bot_id: int) -> str:
    return f"bot-{bot_id}"


def publish(bot: Any, kind: str, payload: dict[str, Any]) -> None:
    message = {"type": "bot.event", "kind": kind, "bot_id": bot.pk, **payload}
    groups = (user_group(bot.owner_id), bot_group(bot.pk))
    transaction.on_commit(lambda: _send(groups, message))
    webhooks.on_bot_event(bot, kind, payload)


def _send(groups: tuple[str, ...], message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        if isinstance(layer, InMemoryChannelLayer):
            # The embedded shape: the layer's queues belong to the server's own event loop,
            # which async_to_sync joins from a request's thread.
            async_to_sync(_send_to_groups)(layer, groups, message)
        else:
            _publisher.send(groups, message)
    except Exception:
        logger.warning("Could not publish %s to %s.", message.get("kind"), groups, exc_info=True)


async def _send_to_groups(layer: BaseChannelLayer, groups: tuple[str, ...], message: dict[str, Any]) -> None:
    await asyncio.gather(*(layer.group_send(group, message) for group in groups))


class _Publisher:
    """One event loop per process, on a thread of its own, and a channel layer of its own.

    channels-redis keeps its connections per event loop. `async_to_sync` from a worker
    started a loop per call, so each publish opened (and dropped) Redis connections: about
    5 ms, twice per fill. On one lasting loop they are reused. The layer is the publisher's
    own instance, so closing another loop's pools (a test's flush) never reaches across
    threads. A forked child (Celery's prefork pool) starts afresh: threads do not survive a fork.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._pid = 0
        self._config: object = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._layer: BaseChannelLayer | None = None

    def send(self, groups: tuple[str, ...], message: dict[str, Any]) -> None:
        loop, layer = self._ready()
        sent = asyncio.run_coroutine_threadsafe(_send_to_groups(layer, groups, message), loop)
        sent.result(timeout=PUBLISH_TIMEOUT_SECONDS)

    def _ready(self) -> tuple[asyncio.AbstractEventLoop, BaseChannelLayer]:
        config = channel_layers.configs.get(DEFAULT_CHANNEL_LAYER)
        with self._lock:
            if self._loop is None or self._pid != os.getpid():
                self._loop, self._pid = asyncio.new_event_loop(), os.getpid()
                threading.Thread(target=self._loop.run_forever, name="live-publisher", daemon=True).start()
                self._layer = None
            if self._layer is None or config is not self._config:  # settings changed (tests)
                self._layer, self._config = channel_layers.make_backend(DEFAULT_CHANNEL_LAYER), config
            return self._loop, self._layer


_publisher = _Publisher()
