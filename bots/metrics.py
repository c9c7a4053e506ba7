"""Tick timings for capacity measurement: a signal that is always sent, a Redis stream only when asked.

`tick_finished` is sent by the tick tasks after every attempt with plain
floats (Unix seconds), so any process can time ticks without touching the
engine. With BOT_TICK_STREAM set, each one is also appended to that Redis
stream (capped), which is how `bench/engine.py` reads timings out of worker
processes. Unset (the default) nothing is recorded and nothing listens.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from django.conf import settings
from django.dispatch import Signal

logger = logging.getLogger(__name__)

# Sent with bot_id, ran (False when another tick held the lease), started,
# finished, and due (when the dispatcher found the bot due; None for wake-ups).
tick_finished = Signal()

STREAM_MAXLEN = 500_000

_client: Any = None


def _redis() -> Any:
    # Created on first use, i.e. in the forked worker child, never shared across a fork.
    global _client
    if _client is None:
        import redis

        _client = redis.Redis.from_url(settings.REDIS_URL)
    return _client


def stream_tick(
    sender: object,
    bot_id: int,
    ran: bool,
    started: float,
    finished: float,
    due: float | None,
    **kwargs: Any,
) -> None:
    record = {"bot": bot_id, "ran": ran, "started": started, "finished": finished, "due": due}
    try:
        _redis().xadd(
            settings.BOT_TICK_STREAM, {"t": json.dumps(record)}, maxlen=STREAM_MAXLEN, approximate=True
        )
    except Exception:
        # Measurement must never break a tick.
        logger.warning("Could not record a tick timing.", exc_info=True)


def connect_stream() -> None:
    if settings.BOT_TICK_STREAM:
        tick_finished.connect(stream_tick, dispatch_uid="bots.metrics.stream_tick")
