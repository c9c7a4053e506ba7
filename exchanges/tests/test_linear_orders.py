"""Perpetual orders are asked about as perpetual orders: real pybit and the Bybit adapter against the
simulator, where `kind=LINEAR` lists, cancels and finds fills, and the spot calls never see them."""

from __future__ import annotations

from decimal import Decimal

import pytest
from pybit.exceptions import InvalidRequestError
from pybit.unified_trading import HTTP

from exchanges.base import InstrumentKind, OrderNotFound, OrderRequest, OrderStatus, OrderType, Side
from exchanges.bybit.adapter import BybitExchange
from exchanges.paper import market
from exchanges.paper.exchange import PaperExchange
from exchanges.tests.conftest import KEY, SECRET
from exchanges.tests.test_simulator_wire import example, same_shape

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

D = Decimal
LINEAR = InstrumentKind.LINEAR


@pytest.fixture
def client(simulator):
    http = HTTP(api_key=KEY, api_secret=SECRET, max_retries=1)
    http.endpoint = simulator.url
    http.retry_codes = set()
    return http


def perp(side: Side, quantity: str, price: str | None, client_id: str, *, reduce_only: bool = False):
    kind = OrderType.LIMIT if price is not None else OrderType.MARKET
    price_or_none = D(price) if price is not None else None
    return OrderRequest(
        "BTCUSDT", side, kind, D(quantity), client_id, price_or_none, kind=LINEAR, reduce_only=reduce_only
    )


def spot(side: Side, quantity: str, price: str, client_id: str) -> OrderRequest:
    return OrderRequest("BTCUSDT", side, OrderType.LIMIT, D(quantity), client_id, D(price))


def ids(states) -> list[str]:
    return sorted(state.client_order_id for state in states)


def test_a_resting_perpetual_order_is_listed_and_cancelled_as_linear_only(
    bybit: BybitExchange, paper: PaperExchange
):
    bybit.place_order(spot(Side.BUY, "0.001", "29000", "spot-rest"))
    bybit.place_order(perp(Side.BUY, "0.01", "29000", "perp-rest"))
    free_before_cancel = paper.balances()["USDT"].free

    (listed,) = bybit.open_orders("BTCUSDT", kind=LINEAR)
    assert (listed.client_order_id, listed.kind, listed.status) == ("perp-rest", LINEAR, OrderStatus.NEW)
    assert ids(bybit.open_orders(kind=LINEAR)) == ["perp-rest"]  # every USDT perpetual, no symbol
    assert ids(bybit.open_orders("BTCUSDT")) == ["spot-rest"]
    assert bybit.order("BTCUSDT", "perp-rest", kind=LINEAR).price == D("29000")
    with pytest.raises(OrderNotFound):
        bybit.order("BTCUSDT", "perp-rest")  # not a spot order
    with pytest.raises(OrderNotFound):
        bybit.cancel_order("BTCUSDT", client_order_id="spot-rest", kind=LINEAR)

    bybit.cancel_order("BTCUSDT", client_order_id="perp-rest", kind=LINEAR)

    assert paper.order("BTCUSDT", "perp-rest", kind=LINEAR).status is OrderStatus.CANCELLED
    assert paper.balances()["USDT"].free > free_before_cancel  # its margin is back
    assert bybit.open_orders("BTCUSDT", kind=LINEAR) == []
    assert ids(bybit.open_orders("BTCUSDT")) == ["spot-rest"]
    (cancelled,) = bybit.order_history("BTCUSDT", kind=LINEAR)
    assert (cancelled.client_order_id, cancelled.status) == ("perp-rest", OrderStatus.CANCELLED)
    assert bybit.order_history("BTCUSDT") == []
    with pytest.raises(OrderNotFound):
        bybit.cancel_order("BTCUSDT", client_order_id="perp-rest", kind=LINEAR)


def test_a_filled_perpetual_order_is_in_the_linear_fills_and_history(
    bybit: BybitExchange, paper: PaperExchange, client: HTTP
):
    bybit.place_order(perp(Side.BUY, "0.1", "29000", "perp-buy"))
    market.set_price("BTCUSDT", D("29000"))

    (fill,) = bybit.fills_since("BTCUSDT", None, kind=LINEAR)
    assert (fill.client_order_id, fill.side, fill.price, fill.quantity) == (
        "perp-buy",
        Side.BUY,
        D(29000),
        D("0.1"),
    )
    assert (fill.fee, fill.fee_asset, fill.is_maker) == (D("0.58"), "USDT", True)  # 0.1 x 29,000 x 0.02%
    assert fill.trade_id == paper.fills_since("BTCUSDT", None, kind=LINEAR)[0].trade_id
    assert bybit.fills_since("BTCUSDT", None) == []
    assert paper.fills_since("BTCUSDT", None) == []
    (filled,) = bybit.order_history("BTCUSDT", kind=LINEAR)
    assert (filled.client_order_id, filled.status, filled.kind) == ("perp-buy", OrderStatus.FILLED, LINEAR)
    assert filled.average_price == D("29000")
    assert bybit.order_history("BTCUSDT") == []

    bybit.place_order(perp(Side.SELL, "0.1", None, "perp-close", reduce_only=True))

    body = client.get_executions(category="linear", symbol="BTCUSDT")
    same_shape(body, example("execution_list_response.json"))
    assert body["result"]["category"] == "linear"
    rows = {row["orderLinkId"]: row for row in body["result"]["list"]}
    assert set(rows) == {"perp-buy", "perp-close"}
    assert {(row["execType"], row["feeCurrency"]) for row in rows.values()} == {("Trade", "USDT")}
    assert (rows["perp-buy"]["closedSize"], rows["perp-close"]["closedSize"]) == ("0", "0.1")
    assert (rows["perp-buy"]["execFee"], rows["perp-buy"]["feeRate"]) == ("0.58", "0.0002")
    assert client.get_executions(category="spot", symbol="BTCUSDT")["result"]["list"] == []
    history = client.get_order_history(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert D({row["orderLinkId"]: row["cumExecFee"] for row in history}["perp-buy"]) == D("0.58")
    assert ids(bybit.order_history("BTCUSDT", kind=LINEAR)) == ["perp-buy", "perp-close"]


def test_cancel_all_perpetual_orders_leaves_spot_orders_alone(bybit: BybitExchange, paper: PaperExchange):
    bybit.place_order(spot(Side.BUY, "0.001", "29000", "spot-rest"))
    bybit.place_order(perp(Side.BUY, "0.01", "29000", "perp-low"))
    bybit.place_order(perp(Side.SELL, "0.01", "31000", "perp-high"))

    assert sorted(bybit.cancel_all_orders("BTCUSDT", kind=LINEAR)) == ["perp-high", "perp-low"]

    assert paper.open_orders(kind=LINEAR) == []
    assert ids(paper.open_orders()) == ["spot-rest"]
    assert bybit.cancel_all_orders("BTCUSDT") == ["spot-rest"]
    assert paper.open_orders() == []


@pytest.mark.parametrize(
    ("call", "code"),
    [
        (lambda client: client.get_open_orders(category="linear"), 10001),  # needs a symbol or a coin
        (lambda client: client.cancel_all_orders(category="linear"), 10001),
        (lambda client: client.get_executions(category="linear", symbol="DOGEUSDT"), 10001),
        (lambda client: client.get_executions(category="inverse", symbol="BTCUSD"), 10001),
        (lambda client: client.cancel_order(category="linear", symbol="BTCUSDT", orderLinkId="none"), 110001),
        (lambda client: client.cancel_order(category="linear", orderLinkId="none"), 10001),
    ],
)
def test_bad_linear_requests_get_bybits_codes(client: HTTP, call, code: int):
    with pytest.raises(InvalidRequestError) as refused:
        call(client)

    assert refused.value.status_code == code


def test_open_orders_by_coin(client: HTTP, bybit: BybitExchange):
    bybit.place_order(perp(Side.BUY, "0.01", "29000", "perp-rest"))

    by_settle = client.get_open_orders(category="linear", settleCoin="USDT")["result"]["list"]
    by_base = client.get_open_orders(category="linear", baseCoin="ETH")["result"]["list"]

    assert ([row["orderLinkId"] for row in by_settle], by_base) == (["perp-rest"], [])
