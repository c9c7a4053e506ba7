"""Signatures on outbound webhooks, in the style of Stripe's.

Header: `Gridwise-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>]`, where each v1 is
HMAC-SHA256 keyed by an endpoint secret over `"{t}.{body}"`. Two v1 values appear while a
rotated-out secret is in its grace period. Receivers check any v1 and reject old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Iterable

HEADER = "Gridwise-Signature"
SCHEME = "v1"
DEFAULT_TOLERANCE = 300


def compute(secret: str, timestamp: int, body: bytes) -> str:
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secrets: Iterable[str], body: bytes, timestamp: int) -> str:
    parts = [f"t={timestamp}", *(f"{SCHEME}={compute(secret, timestamp, body)}" for secret in secrets)]
    return ",".join(parts)


def _parse(header: str) -> tuple[int | None, list[str]]:
    timestamp: int | None = None
    signatures: list[str] = []
    for item in header.split(","):
        key, _, value = item.strip().partition("=")
        if key == "t" and value.isdigit():
            timestamp = int(value)
        elif key == SCHEME and value:
            signatures.append(value)
    return timestamp, signatures


def verify_signature(
    secret: str, header: str, body: bytes | str, tolerance: int = DEFAULT_TOLERANCE, now: float | None = None
) -> bool:
    """True if `header` signs `body` with `secret` within `tolerance` seconds of now."""
    raw = body.encode() if isinstance(body, str) else body
    timestamp, signatures = _parse(header or "")
    if timestamp is None or not signatures:
        return False
    if abs((time.time() if now is None else now) - timestamp) > tolerance:
        return False
    expected = compute(secret, timestamp, raw)
    return any(hmac.compare_digest(expected, candidate) for candidate in signatures)
