"""python-telegram-bot, configured from settings, driven from synchronous code.

The library is asynchronous; Gridwise calls it from Celery tasks, a view and the poller, each
of which runs one short event loop per call. A fresh Bot (and HTTP client) per call keeps no
loop or connection alive across threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import datetime
from collections.abc import Awaitable, Callable
from typing import TypeVar

from django.conf import settings
from django.core.cache import cache
from telegram import Bot
from telegram.request import HTTPXRequest

T = TypeVar("T")

CONNECT_TIMEOUT = 5.0
READ_TIMEOUT = 10.0
USERNAME_CACHE_SECONDS = 3600


def is_configured() -> bool:
    return bool(settings.TELEGRAM_BOT_TOKEN)


def make_bot(poll_timeout: float = 0) -> Bot:
    base = settings.TELEGRAM_API_BASE.rstrip("/")
    return Bot(
        settings.TELEGRAM_BOT_TOKEN,
        base_url=f"{base}/bot",
        base_file_url=f"{base}/file/bot",
        request=HTTPXRequest(connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT),
        # A long poll waits up to its timeout for an update; the read must outlast it.
        get_updates_request=HTTPXRequest(
            connect_timeout=CONNECT_TIMEOUT, read_timeout=READ_TIMEOUT + poll_timeout
        ),
    )


def call(action: Callable[[Bot], Awaitable[T]], *, poll_timeout: float = 0) -> T:
    """`action(bot)` run to completion on a loop of its own."""

    async def run() -> T:
        bot = make_bot(poll_timeout)
        try:
            return await action(bot)
        finally:
            await bot.shutdown()

    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(run())
    # Called from a thread whose loop is running (an async caller that forgot sync_to_async,
    # or a test driving a browser): a loop of its own on a thread of its own.
    with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, run()).result()


def bot_username() -> str:
    """The bot's @name for deep links: from settings, else asked once of the API and cached."""
    if settings.TELEGRAM_BOT_USERNAME:
        return str(settings.TELEGRAM_BOT_USERNAME)
    key = f"telegram:username:{settings.TELEGRAM_BOT_TOKEN.split(':', 1)[0]}"
    username = cache.get(key)
    if username is None:
        me = call(lambda bot: bot.get_me())
        username = me.username or ""
        cache.set(key, username, USERNAME_CACHE_SECONDS)
    return str(username)


def seconds(value: int | float | datetime.timedelta) -> float:
    """A Bot API duration (python-telegram-bot gives int seconds or a timedelta) in seconds."""
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    return float(value)
