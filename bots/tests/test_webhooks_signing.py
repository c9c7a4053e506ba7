"""The signature scheme, checked by a verifier written here from the documented format alone."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable

import pytest

from bots.webhooks import signing
from bots.webhooks.emit import event_body

SECRET = "whsec_test_secret_for_signing"


def independent_verify(secret: str, header: str, body: bytes, tolerance: int = 300) -> bool:
    """What a receiver would write from the README: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">."""
    fields = [part.partition("=")[::2] for part in header.split(",")]
    timestamps = [value for key, value in fields if key == "t"]
    candidates = [value for key, value in fields if key == "v1"]
    if len(timestamps) != 1 or not timestamps[0].isdigit() or not candidates:
        return False
    if abs(time.time() - int(timestamps[0])) > tolerance:
        return False
    expected = hmac.new(secret.encode(), timestamps[0].encode() + b"." + body, hashlib.sha256).hexdigest()
    return any(hmac.compare_digest(expected, candidate) for candidate in candidates)


def test_a_signed_body_verifies_with_an_independent_verifier_and_ours() -> None:
    body = event_body("evt_1", "order.filled", {"price": "54000.10"}).encode()
    header = signing.signature_header([SECRET], body, int(time.time()))

    assert header.startswith("t=")
    assert ",v1=" in header
    assert independent_verify(SECRET, header, body)
    assert signing.verify_signature(SECRET, header, body)


@pytest.mark.parametrize("verify", [independent_verify, signing.verify_signature])
def test_a_tampered_body_a_wrong_secret_or_an_old_timestamp_fails(verify: Callable[..., bool]) -> None:
    body = b'{"id":"evt_1","type":"order.filled","created":1,"data":{"price":"54000.10"}}'
    check = verify
    fresh = signing.signature_header([SECRET], body, int(time.time()))
    stale = signing.signature_header([SECRET], body, int(time.time()) - 301)

    assert check(SECRET, fresh, body)
    assert not check(SECRET, fresh, body.replace(b"54000.10", b"54000.11"))
    assert not check("whsec_someone_else", fresh, body)
    assert not check(SECRET, stale, body)
    assert not check(SECRET, "t=abc,v1=00", body)
    assert not check(SECRET, "", body)


def test_during_rotation_both_secrets_sign_and_either_verifies() -> None:
    body = b"{}"
    header = signing.signature_header(["whsec_new", "whsec_old"], body, int(time.time()))

    assert header.count("v1=") == 2
    assert independent_verify("whsec_new", header, body)
    assert independent_verify("whsec_old", header, body)
    assert not independent_verify("whsec_other", header, body)


def test_the_body_is_the_documented_envelope_with_decimals_as_strings() -> None:
    from decimal import Decimal

    body = json.loads(event_body("evt_x", "order.filled", {"price": Decimal("0.000123400")}, created=17))

    assert body == {"id": "evt_x", "type": "order.filled", "created": 17, "data": {"price": "0.000123400"}}
