"""Live events to the trader's pages, sent only after the change they announce is committed."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import BaseChannelLayer, get_channel_layer
from django.db import transaction

from bots.webhooks import emit as webhooks

logger = logging.getLogger(__name__)


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
        # One trip into the event loop for every group: each async_to_sync call from a
        # worker thread starts a loop and channels-redis opens a connection for that loop.
        async_to_sync(_send_to_groups)(layer, groups, message)
    except Exception:
        logger.warning("Could not publish %s to %s.", message.get("kind"), groups, exc_info=True)


async def _send_to_groups(layer: BaseChannelLayer, groups: tuple[str, ...], message: dict[str, Any]) -> None:
    await asyncio.gather(*(layer.group_send(group, message) for group in groups))
