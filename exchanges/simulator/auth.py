"""Bybit v5 request authentication, checked the way Bybit checks it.

Rule (docs/v5/guide.mdx, "Authentication"): the signature is HMAC-SHA256, as
lowercase hex, of timestamp + api_key + recv_window + (query string for GET,
raw JSON body for POST), and the timestamp must satisfy
server_time - recv_window <= timestamp < server_time + 1000.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from exchanges.bybit import codes

DEFAULT_RECV_WINDOW = 5000
FUTURE_TOLERANCE_MS = 1000


@dataclass(frozen=True)
class KeyConfig:
    """One API key the simulator accepts, with what `query-api` reports for it."""

    api_key: str
    api_secret: str
    read_only: bool = False
    can_withdraw: bool = False
    can_trade_spot: bool = True
    ips: tuple[str, ...] = ("*",)  # Bybit's way of saying "no IP whitelist"
    note: str = "simulator"
    created_at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @property
    def ip_bound(self) -> bool:
        return bool(self.ips) and "*" not in self.ips


@dataclass
class Rejection(Exception):
    """A request Bybit would refuse, with the retCode and retMsg it would answer."""

    code: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, code: int, message: str | None = None) -> Rejection:
        return cls(code, message if message is not None else codes.BY_CODE[code].message)


def sign(secret: str, timestamp: str, api_key: str, recv_window: str, payload: str) -> str:
    text = f"{timestamp}{api_key}{recv_window}{payload}"
    return hmac.new(secret.encode(), text.encode(), hashlib.sha256).hexdigest()


def authenticate(
    headers: Mapping[str, str],
    payload: str,
    keys: Mapping[str, KeyConfig],
    *,
    server_time_ms: int,
    client_ip: str,
) -> KeyConfig:
    """The key a request is signed with, or `Rejection` with Bybit's code."""
    key = keys.get(headers.get("X-BAPI-API-KEY", ""))
    if key is None:
        raise Rejection.of(codes.INVALID_KEY)
    timestamp = headers.get("X-BAPI-TIMESTAMP", "")
    recv_window = headers.get("X-BAPI-RECV-WINDOW", str(DEFAULT_RECV_WINDOW))
    _check_time(timestamp, recv_window, server_time_ms)
    expected = sign(key.api_secret, timestamp, key.api_key, recv_window, payload)
    if not hmac.compare_digest(expected, headers.get("X-BAPI-SIGN", "")):
        raise Rejection.of(codes.BAD_SIGN)
    if key.ip_bound and client_ip not in key.ips:
        raise Rejection.of(codes.UNMATCHED_IP)
    return key


def _check_time(timestamp: str, recv_window: str, server_time_ms: int) -> None:
    if not timestamp.isdigit() or not recv_window.isdigit():
        raise Rejection.of(
            codes.PARAMETER_ERROR, "invalid request, please check your timestamp and recv_window param"
        )
    if not server_time_ms - int(recv_window) <= int(timestamp) < server_time_ms + FUTURE_TOLERANCE_MS:
        message = codes.RECV_WINDOW_MESSAGE.format(
            timestamp=timestamp, server_time=server_time_ms, recv_window=recv_window
        )
        raise Rejection.of(codes.RECV_WINDOW, message)
