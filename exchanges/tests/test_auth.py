"""Signature and timestamp checks, as Bybit makes them."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from exchanges.bybit import codes
from exchanges.simulator.auth import KeyConfig, Rejection, authenticate, sign

KEY = KeyConfig("key-1", "secret-1")
KEYS = {KEY.api_key: KEY}
NOW = 1_700_000_000_000
QUERY = "category=spot&symbol=BTCUSDT"


def headers(timestamp=NOW, recv_window="5000", signature=None, api_key="key-1", payload=QUERY):
    signature = signature or sign("secret-1", str(timestamp), api_key, recv_window, payload)
    return {
        "X-BAPI-API-KEY": api_key,
        "X-BAPI-TIMESTAMP": str(timestamp),
        "X-BAPI-RECV-WINDOW": recv_window,
        "X-BAPI-SIGN": signature,
    }


def check(request_headers, payload=QUERY, keys=KEYS, ip="127.0.0.1"):
    return authenticate(request_headers, payload, keys, server_time_ms=NOW, client_ip=ip)


def test_sign_is_hmac_sha256_hex_of_timestamp_key_window_and_payload():
    expected = hmac.new(b"s", b"1658384314791XXXXXXXXXX5000category=option", hashlib.sha256).hexdigest()

    assert sign("s", "1658384314791", "XXXXXXXXXX", "5000", "category=option") == expected


def test_a_good_signature_is_accepted_for_get_and_post():
    body = '{"category":"spot","symbol":"BTCUSDT"}'

    assert check(headers()) is KEY
    assert check(headers(payload=body), payload=body) is KEY


@pytest.mark.parametrize(
    "tampered",
    [
        {"signature": "0" * 64},
        {"signature": sign("wrong-secret", str(NOW), "key-1", "5000", QUERY)},
        {"signature": sign("secret-1", str(NOW), "key-1", "5000", QUERY + "&limit=1")},
        {"signature": sign("secret-1", str(NOW), "key-1", "6000", QUERY)},
    ],
    ids=["garbage", "other-secret", "other-payload", "other-window"],
)
def test_a_bad_signature_is_10004(tampered):
    with pytest.raises(Rejection) as caught:
        check(headers(**tampered))

    assert caught.value.code == codes.BAD_SIGN == 10004


def test_a_body_changed_after_signing_is_10004():
    signed = headers(payload='{"qty":"1"}')

    with pytest.raises(Rejection) as caught:
        check(signed, payload='{"qty":"2"}')
    assert caught.value.code == 10004


@pytest.mark.parametrize(
    ("timestamp", "window"),
    [(NOW - 5001, "5000"), (NOW + 1000, "5000"), (NOW - 2001, "2000")],
    ids=["stale", "from-the-future", "stale-for-a-short-window"],
)
def test_a_timestamp_outside_the_window_is_10002(timestamp, window):
    with pytest.raises(Rejection) as caught:
        check(headers(timestamp=timestamp, recv_window=window))

    assert caught.value.code == codes.RECV_WINDOW == 10002
    assert f"req_timestamp[{timestamp}]" in caught.value.message
    assert f"server_timestamp[{NOW}]" in caught.value.message


@pytest.mark.parametrize("timestamp", [NOW - 5000, NOW + 999, NOW], ids=["oldest", "newest", "now"])
def test_the_window_edges_are_bybits(timestamp):
    assert check(headers(timestamp=timestamp)) is KEY


def test_an_unknown_key_is_10003():
    with pytest.raises(Rejection) as caught:
        check(headers(api_key="nobody"))

    assert caught.value.code == codes.INVALID_KEY == 10003


def test_a_key_bound_to_other_ips_is_10010():
    bound = KeyConfig("key-1", "secret-1", ips=("10.0.0.1",))

    with pytest.raises(Rejection) as caught:
        check(headers(), keys={"key-1": bound})
    assert caught.value.code == 10010
    assert check(headers(), keys={"key-1": bound}, ip="10.0.0.1") is bound
