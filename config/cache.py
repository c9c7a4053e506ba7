"""Django's Redis cache, confined to its key prefix."""

from __future__ import annotations

from django.core.cache.backends.redis import RedisCache

CLEAR_BATCH = 500


class NamespacedRedisCache(RedisCache):
    """`clear()` deletes only this cache's keys when it has a prefix: Django's flushes the whole
    Redis database, which would empty the queues, sessions and cache of whatever else shares it."""

    def clear(self) -> None:
        if not self.key_prefix:
            super().clear()
            return
        client = self._cache.get_client(None, write=True)
        batch: list[bytes] = []
        pattern = "".join(f"\\{char}" if char in "*?[]\\" else char for char in self.key_prefix)
        for key in client.scan_iter(match=f"{pattern}:*", count=CLEAR_BATCH):
            batch.append(key)
            if len(batch) >= CLEAR_BATCH:
                client.delete(*batch)
                batch.clear()
        if batch:
            client.delete(*batch)
