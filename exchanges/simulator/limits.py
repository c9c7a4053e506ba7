"""Bybit's per-UID, per-endpoint rolling one-second rate limits and their headers."""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from dataclasses import dataclass

# Bybit's default spot limits per UID and second (docs/v5/rate-limit.mdx).
DEFAULT_LIMITS = {
    "/v5/order/create": 20,
    "/v5/order/cancel": 20,
    "/v5/order/cancel-all": 20,
    "/v5/order/realtime": 50,
    "/v5/order/history": 50,
    "/v5/execution/list": 50,
    "/v5/account/wallet-balance": 50,
    "/v5/account/fee-rate": 10,
    "/v5/user/query-api": 10,
}
PUBLIC_LIMIT = 120  # per IP; Bybit's is 600 per 5 seconds
WINDOW = 1.0


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    reset_ms: int

    def headers(self) -> dict[str, str]:
        return {
            "X-Bapi-Limit": str(self.limit),
            "X-Bapi-Limit-Status": str(self.remaining),
            "X-Bapi-Limit-Reset-Timestamp": str(self.reset_ms),
        }


class RateLimiter:
    def __init__(self, limits: dict[str, int] | None = None, public_limit: int = PUBLIC_LIMIT) -> None:
        self.limits = dict(DEFAULT_LIMITS if limits is None else limits)
        self.public_limit = public_limit
        self._lock = threading.Lock()
        self._hits: defaultdict[tuple[str, str], deque[float]] = defaultdict(deque)

    def limit_for(self, path: str) -> int:
        return self.limits.get(path, self.public_limit)

    def check(self, who: str, path: str) -> Verdict:
        """Count this request unless it is over the limit; say what the headers should."""
        now = time.time()
        limit = self.limit_for(path)
        with self._lock:
            hits = self._hits[(who, path)]
            while hits and hits[0] <= now - WINDOW:
                hits.popleft()
            allowed = len(hits) < limit
            if allowed:
                hits.append(now)
            remaining = limit - len(hits)
            reset = hits[0] + WINDOW if remaining <= 0 else now
        return Verdict(allowed, limit, remaining, int(reset * 1000))

    @staticmethod
    def forced(path_limit: int, reset_in_ms: int) -> Verdict:
        return Verdict(False, path_limit, 0, int(time.time() * 1000) + reset_in_ms)
