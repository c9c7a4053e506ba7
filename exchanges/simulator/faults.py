"""Test-only faults the simulator can inject, switched from Python or over HTTP."""

from __future__ import annotations

import threading
from dataclasses import asdict, dataclass, field, fields
from typing import Any

LOSE_MODES = ("drop", "delay")


@dataclass
class FaultSettings:
    latency: float = 0.0  # seconds added before every reply
    rate_limit_requests: int = 0  # the next N requests are answered 10006
    rate_limit_reset_ms: int = 500  # how far ahead X-Bapi-Limit-Reset-Timestamp points then
    server_error_requests: int = 0  # the next N requests get an HTTP 5xx
    server_error_status: int = 503
    lose_order_responses: int = 0  # the next N accepted orders lose their reply
    lose_mode: str = "drop"  # "drop" closes the connection; "delay" answers after lose_delay
    lose_delay: float = 0.0
    rejected_keys: set[str] = field(default_factory=set)  # answered 10003 as if revoked


class Faults:
    """Thread-safe switches; each countdown is used up one request at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._settings = FaultSettings()

    def configure(self, **changes: Any) -> None:
        known = {item.name for item in fields(FaultSettings)}
        unknown = set(changes) - known
        if unknown:
            raise ValueError(f"Unknown fault settings: {', '.join(sorted(unknown))}")
        if changes.get("lose_mode", "drop") not in LOSE_MODES:
            raise ValueError(f"lose_mode must be one of {LOSE_MODES}")
        if "rejected_keys" in changes:
            changes["rejected_keys"] = set(changes["rejected_keys"])
        with self._lock:
            for name, value in changes.items():
                setattr(self._settings, name, value)

    def reset(self) -> None:
        with self._lock:
            self._settings = FaultSettings()

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            data = asdict(self._settings)
        data["rejected_keys"] = sorted(data["rejected_keys"])
        return data

    @property
    def latency(self) -> float:
        return self._settings.latency

    def is_rejected(self, api_key: str) -> bool:
        with self._lock:
            return api_key in self._settings.rejected_keys

    def take_rate_limit(self) -> int | None:
        """The reset delay (ms) if this request is to be rate limited."""
        with self._lock:
            if self._settings.rate_limit_requests <= 0:
                return None
            self._settings.rate_limit_requests -= 1
            return self._settings.rate_limit_reset_ms

    def take_server_error(self) -> int | None:
        with self._lock:
            if self._settings.server_error_requests <= 0:
                return None
            self._settings.server_error_requests -= 1
            return self._settings.server_error_status

    def take_lost_response(self) -> tuple[str, float] | None:
        with self._lock:
            if self._settings.lose_order_responses <= 0:
                return None
            self._settings.lose_order_responses -= 1
            return self._settings.lose_mode, self._settings.lose_delay
