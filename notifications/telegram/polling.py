"""Long polling for local runs: getUpdates in a loop, each update handled as the webhook would."""

from __future__ import annotations

import logging
import threading
import time

from django.db import close_old_connections
from telegram import Bot, Update

from notifications.telegram import client
from notifications.telegram.commands import handle_update

logger = logging.getLogger(__name__)

POLL_SECONDS = 25
ERROR_PAUSE_SECONDS = 3.0
ALLOWED_UPDATES = ["message", "callback_query"]


def poll_once(offset: int, timeout: float = POLL_SECONDS) -> int:
    """Handles what arrived within `timeout`; the offset that confirms it."""

    async def fetch(bot: Bot) -> tuple[Update, ...]:
        return await bot.get_updates(offset=offset, timeout=int(timeout), allowed_updates=ALLOWED_UPDATES)

    for update in client.call(fetch, poll_timeout=timeout):
        try:
            handle_update(update)
        finally:
            close_old_connections()
        offset = update.update_id + 1
    return offset


def poll_forever(stop: threading.Event, timeout: float = POLL_SECONDS) -> None:
    # getUpdates is refused while a webhook is set: polling takes over from it.
    client.call(lambda bot: bot.delete_webhook())
    offset = 0
    while not stop.is_set():
        try:
            offset = poll_once(offset, timeout)
        except Exception:
            logger.warning("Telegram polling failed; retrying.", exc_info=True)
            stop.wait(ERROR_PAUSE_SECONDS)
        time.sleep(0)


def start_poller(timeout: float = POLL_SECONDS) -> threading.Event:
    """A daemon thread polling until the returned event is set."""
    stop = threading.Event()
    threading.Thread(target=poll_forever, args=(stop, timeout), name="telegram-poller", daemon=True).start()
    return stop
