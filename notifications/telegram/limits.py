"""Telegram's send limits, shared by every worker: about one message a second to a chat and
thirty a second in all.

Each send reserves the next free slot for its chat and overall, atomically in Redis; a slot at
most `max_wait` away is taken (the sender sleeps until it), a later one is refused with the
wait, and the delivery is retried then. Without Redis (the zero-config run: one process) the
same reservation is kept in memory.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from django.conf import settings

_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local chat_gap = tonumber(ARGV[1])
local global_gap = tonumber(ARGV[2])
local max_wait = tonumber(ARGV[3])
local chat_next = tonumber(redis.call('GET', KEYS[1]) or '0')
local all_next = tonumber(redis.call('GET', KEYS[2]) or '0')
local slot = math.max(now, chat_next, all_next)
local wait = slot - now
if wait > max_wait then return {0, tostring(wait)} end
redis.call('SET', KEYS[1], tostring(slot + chat_gap), 'PX', math.ceil((wait + chat_gap) * 1000) + 1000)
redis.call('SET', KEYS[2], tostring(slot + global_gap), 'PX', math.ceil((wait + global_gap) * 1000) + 1000)
return {1, tostring(wait)}
"""

_client: Any = None
_script: Any = None
_memory: dict[str, float] = {}
_memory_lock = threading.Lock()


def _redis_url() -> str:
    return str(settings.CACHE_URL or settings.REDIS_URL or "")


def _gaps() -> tuple[float, float]:
    return float(settings.TELEGRAM_CHAT_INTERVAL), 1.0 / float(settings.TELEGRAM_GLOBAL_PER_SECOND)


def keys(chat_id: int) -> tuple[str, str]:
    prefix = f"{settings.REDIS_KEY_PREFIX}telegram:rate:"
    return f"{prefix}chat:{chat_id}", f"{prefix}all"


def reserve(chat_id: int, max_wait: float = 1.0) -> tuple[bool, float]:
    """(True, seconds to wait before sending) when a slot was taken; (False, seconds until one
    frees up) when the next is further than `max_wait`."""
    chat_gap, global_gap = _gaps()
    if not _redis_url():
        return _reserve_in_memory(chat_id, chat_gap, global_gap, max_wait)
    taken, wait = _reserve_script()(keys=list(keys(chat_id)), args=[chat_gap, global_gap, max_wait])
    return bool(taken), max(0.0, float(wait))


def _reserve_script() -> Any:
    global _client, _script
    if _script is None:
        import redis

        _client = redis.Redis.from_url(_redis_url())
        _script = _client.register_script(_RESERVE)
    return _script


def _reserve_in_memory(
    chat_id: int, chat_gap: float, global_gap: float, max_wait: float
) -> tuple[bool, float]:
    chat_key, all_key = keys(chat_id)
    with _memory_lock:
        now = time.time()
        slot = max(now, _memory.get(chat_key, 0.0), _memory.get(all_key, 0.0))
        wait = slot - now
        if wait > max_wait:
            return False, wait
        _memory[chat_key] = slot + chat_gap
        _memory[all_key] = slot + global_gap
        return True, wait
