"""The simulator on the wire: Bybit's envelope, fields, headers and authentication."""

from __future__ import annotations

import json
import time
from decimal import Decimal
from pathlib import Path

import pytest
import requests
from pybit.unified_trading import HTTP

from exchanges.simulator.auth import sign
from exchanges.tests.conftest import KEY, SECRET

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

EXAMPLES = Path(__file__).resolve().parent / "bybit_v5"
LIMIT_HEADERS = ("X-Bapi-Limit", "X-Bapi-Limit-Status", "X-Bapi-Limit-Reset-Timestamp")


def example(name):
    return json.loads((EXAMPLES / name).read_text())


def keys_of(value):
    """The nested key structure of a reply: dicts by key, lists by their first item."""
    if isinstance(value, dict):
        return {key: keys_of(item) for key, item in value.items()}
    if isinstance(value, list):
        return [keys_of(value[0])] if value else []
    return None


def same_shape(ours, bybits):
    """Ours must have every field of Bybit's example, and no field it lacks."""
    mine, theirs = keys_of(ours), keys_of(bybits)
    if isinstance(theirs, dict) and "cumFeeDetail" in theirs:  # keyed by coin, not a fixed schema
        mine["cumFeeDetail"] = theirs["cumFeeDetail"] = None
    if isinstance(mine, dict):
        assert set(mine) == set(theirs), set(mine) ^ set(theirs)
        for key in mine:
            if mine[key] is not None and theirs[key] is not None and mine[key] != [] and theirs[key] != []:
                same_shape(ours[key], bybits[key])
    elif isinstance(mine, list) and mine and theirs:
        same_shape(ours[0], bybits[0])


@pytest.fixture
def client(simulator):
    http = HTTP(api_key=KEY, api_secret=SECRET, max_retries=1, return_response_headers=True)
    http.endpoint = simulator.url
    return http


def call(method, **params):
    body, _elapsed, headers = method(**params)
    for name in LIMIT_HEADERS:
        assert headers[name].isdigit()
    return body


def test_every_reply_matches_bybits_documented_fields(client):
    pairs = [
        (
            call(client.get_instruments_info, category="spot", symbol="BTCUSDT"),
            "instruments_info_spot_response.json",
        ),
        (call(client.get_tickers, category="spot", symbol="BTCUSDT"), "tickers_spot_response.json"),
        (call(client.get_wallet_balance, accountType="UNIFIED"), "wallet_balance_response.json"),
        (call(client.get_api_key_information), "user_query_api_response.json"),
        (
            call(
                client.place_order,
                category="spot",
                symbol="BTCUSDT",
                side="Buy",
                orderType="Limit",
                qty="0.01",
                price="29000",
                orderLinkId="shape-1",
            ),
            "order_create_response.json",
        ),
        (call(client.get_open_orders, category="spot", symbol="BTCUSDT"), "order_realtime_response.json"),
        (
            call(client.cancel_order, category="spot", symbol="BTCUSDT", orderLinkId="shape-1"),
            "order_cancel_response.json",
        ),
        (call(client.get_order_history, category="spot", symbol="BTCUSDT"), "order_history_response.json"),
    ]
    call(
        client.place_order,
        category="spot",
        symbol="BTCUSDT",
        side="Buy",
        orderType="Limit",
        qty="0.01",
        price="28000",
    )
    pairs.append(
        (call(client.cancel_all_orders, category="spot", symbol="BTCUSDT"), "order_cancel_all_response.json")
    )
    call(client.place_order, category="spot", symbol="BTCUSDT", side="Sell", orderType="Market", qty="0.01")
    pairs.append(
        (call(client.get_executions, category="spot", symbol="BTCUSDT"), "execution_list_response.json")
    )

    for ours, name in pairs:
        bybits = example(name)
        assert ours["retCode"] == 0, (name, ours)
        assert ours["result"]["list"] if "list" in bybits["result"] else True, name
        same_shape(ours, bybits)


def test_instruments_info_carries_the_maxima_per_order_type(client):
    body = call(client.get_instruments_info, category="spot", symbol="BTCUSDT")
    lot = body["result"]["list"][0]["lotSizeFilter"]
    assert (lot["maxLimitOrderQty"], lot["maxMarketOrderQty"], lot["maxOrderAmt"]) == (
        "83",
        "41.5",
        "8000000",
    )
    assert lot["maxOrderQty"] == "83"


def test_kline_rows_are_bybits_seven_strings_newest_first(client):
    from exchanges.paper import market

    market.set_price("BTCUSDT", Decimal("30100"))
    now = int(time.time() * 1000)
    reply = call(
        client.get_kline, category="spot", symbol="BTCUSDT", interval="1", start=now - 3_600_000, end=now
    )

    same_shape(
        {**reply, "result": {**reply["result"], "list": []}},
        {
            **example("kline_response.json"),
            "result": {**example("kline_response.json")["result"], "list": []},
        },
    )
    rows = reply["result"]["list"]
    assert rows
    assert all(len(row) == 7 and all(isinstance(cell, str) for cell in row) for row in rows)
    assert [int(row[0]) for row in rows] == sorted((int(row[0]) for row in rows), reverse=True)


def test_server_time(client):
    body = call(client.get_server_time)

    assert abs(int(body["result"]["timeSecond"]) - time.time()) < 5
    assert body["result"]["timeNano"].startswith(body["result"]["timeSecond"])


def signed_get(simulator, query, *, timestamp=None, secret=SECRET, recv_window="5000"):
    timestamp = str(timestamp or int(time.time() * 1000))
    headers = {
        "X-BAPI-API-KEY": KEY,
        "X-BAPI-TIMESTAMP": timestamp,
        "X-BAPI-RECV-WINDOW": recv_window,
        "X-BAPI-SIGN": sign(secret, timestamp, KEY, recv_window, query),
    }
    return requests.get(f"{simulator.url}/v5/account/wallet-balance?{query}", headers=headers, timeout=2)


def test_signatures_over_http(simulator):
    good = signed_get(simulator, "accountType=UNIFIED")
    bad = signed_get(simulator, "accountType=UNIFIED", secret="wrong")
    stale = signed_get(simulator, "accountType=UNIFIED", timestamp=int(time.time() * 1000) - 10_000)

    assert (good.status_code, good.json()["retCode"]) == (200, 0)
    assert bad.json()["retCode"] == 10004
    assert stale.json()["retCode"] == 10002
    for reply in (good, bad, stale):
        assert set(reply.json()) == {"retCode", "retMsg", "result", "retExtInfo", "time"}
        assert all(name in reply.headers for name in LIMIT_HEADERS)


def test_a_signed_post_body_is_verified_byte_for_byte(simulator):
    body = '{"category":"spot","symbol":"BTCUSDT","orderLinkId":"nothing"}'
    timestamp = str(int(time.time() * 1000))
    headers = {
        "X-BAPI-API-KEY": KEY,
        "X-BAPI-TIMESTAMP": timestamp,
        "X-BAPI-RECV-WINDOW": "5000",
        "X-BAPI-SIGN": sign(SECRET, timestamp, KEY, "5000", body),
        "Content-Type": "application/json",
    }
    url = f"{simulator.url}/v5/order/cancel"

    honest = requests.post(url, data=body, headers=headers, timeout=2).json()
    altered = requests.post(url, data=body.replace("nothing", "nothin2"), headers=headers, timeout=2).json()

    assert honest["retCode"] == 170213  # signed fine; the order does not exist
    assert altered["retCode"] == 10004


@pytest.mark.parametrize("category", ["inverse", "option"])  # spot and linear are served
def test_other_categories_are_refused_like_bybit(client, category):
    from pybit.exceptions import InvalidRequestError

    with pytest.raises(InvalidRequestError) as caught:
        client.get_tickers(category=category, symbol="BTCUSDT")
    assert caught.value.status_code == 10001
    assert caught.value.message == "Illegal category"


def test_unknown_routes_are_404(simulator):
    assert requests.get(f"{simulator.url}/v5/position/closed-pnl", timeout=2).status_code == 404
