"""USDT perpetuals over the wire: real pybit against the simulator, raw and through the Bybit adapter."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from pybit.exceptions import InvalidRequestError
from pybit.unified_trading import HTTP

from exchanges.base import (
    InstrumentKind,
    InvalidOrder,
    InvalidOrderReason,
    LeverageRejected,
    OrderRequest,
    OrderStatus,
    OrderType,
    PositionSide,
    Side,
)
from exchanges.bybit import convert
from exchanges.bybit.adapter import BybitExchange
from exchanges.paper import market, perpetual
from exchanges.paper.exchange import PaperExchange
from exchanges.perpetuals import margin
from exchanges.tests.conftest import KEY, PRICE, SECRET
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


def linear(side: Side, quantity: str, price: str | None, client_id: str, *, reduce_only: bool = False):
    kind = OrderType.LIMIT if price is not None else OrderType.MARKET
    return OrderRequest(
        "BTCUSDT",
        side,
        kind,
        D(quantity),
        client_id,
        D(price) if price else None,
        kind=LINEAR,
        reduce_only=reduce_only,
    )


def test_linear_instruments_info_has_bybits_shape(client):
    body = client.get_instruments_info(category="linear", symbol="BTCUSDT")

    same_shape(body, example("instruments_info_linear_usdt_perp_response.clean.json"))
    (item,) = body["result"]["list"]
    assert (item["contractType"], item["leverageFilter"]["maxLeverage"]) == ("LinearPerpetual", "100.00")
    assert (item["lotSizeFilter"]["qtyStep"], item["lotSizeFilter"]["maxMktOrderQty"]) == ("0.001", "500")


def test_linear_ticker_carries_the_mark_price(client):
    body = client.get_tickers(category="linear", symbol="BTCUSDT")

    same_shape(body["result"]["list"][0], example("tickers_inverse_response.json")["result"]["list"][0])
    ticker = body["result"]["list"][0]
    assert ticker["markPrice"] == "30000"
    assert ticker["fundingRate"] == "0.0001"
    next_funding = int(ticker["nextFundingTime"]) // 1000
    assert next_funding % (8 * 3600) == 0


def test_set_leverage_answers_not_modified_when_in_force(client):
    body = client.set_leverage(category="linear", symbol="BTCUSDT", buyLeverage="5", sellLeverage="5")
    assert body["retCode"] == 0

    with pytest.raises(InvalidRequestError) as again:
        client.set_leverage(category="linear", symbol="BTCUSDT", buyLeverage="5", sellLeverage="5")
    assert again.value.status_code == 110043
    with pytest.raises(InvalidRequestError) as too_high:
        client.set_leverage(category="linear", symbol="BTCUSDT", buyLeverage="150", sellLeverage="150")
    assert too_high.value.status_code == 110013


def test_switch_mode_is_refused_with_open_orders(client, bybit: BybitExchange):
    with pytest.raises(InvalidRequestError) as unchanged:
        client.switch_position_mode(category="linear", symbol="BTCUSDT", mode=0)
    assert unchanged.value.status_code == 110025
    bybit.place_order(linear(Side.BUY, "0.01", "29000", "rest"))

    with pytest.raises(InvalidRequestError) as locked:
        client.switch_position_mode(category="linear", symbol="BTCUSDT", mode=3)
    assert locked.value.status_code == 110028


def test_order_create_linear_with_reduce_only_and_the_position_list(client, paper: PaperExchange):
    body = client.place_order(
        category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.1", positionIdx=0
    )
    assert body["retCode"] == 0
    with pytest.raises(InvalidRequestError) as grows:
        client.place_order(
            category="linear", symbol="BTCUSDT", side="Buy", orderType="Market", qty="0.1", reduceOnly=True
        )
    assert grows.value.status_code == 110017

    listed = client.get_positions(category="linear", symbol="BTCUSDT")

    same_shape(listed, example("position_list_response.json"))
    (row,) = listed["result"]["list"]
    assert (row["side"], row["size"], row["leverage"], row["tradeMode"]) == ("Buy", "0.1", "10", 1)
    assert D(row["liqPrice"]) == paper.positions()[0].liquidation_price
    # A spot listing does not show the perpetual's order.
    assert client.get_order_history(category="spot", symbol="BTCUSDT")["result"]["list"] == []
    (order,) = client.get_order_history(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert order["reduceOnly"] is False


def test_funding_history_lists_settlements_newest_first(client, bybit: BybitExchange, paper: PaperExchange):
    bybit.place_order(linear(Side.SELL, "0.1", None, "short"))
    first = perpetual.funding_times(timezone.now(), timezone.now() + timedelta(hours=8))[0]
    market.set_price("BTCUSDT", PRICE, at=first + timedelta(seconds=1))
    market.set_price("BTCUSDT", PRICE, at=first + timedelta(hours=8, seconds=1))

    body = client.get_funding_rate_history(category="linear", symbol="BTCUSDT")

    rows = body["result"]["list"]
    assert [int(row["fundingRateTimestamp"]) for row in rows] == [
        int((first + timedelta(hours=8)).timestamp() * 1000),
        int(first.timestamp() * 1000),
    ]
    assert {row["fundingRate"] for row in rows} == {"0.0001"}
    with pytest.raises(InvalidRequestError) as start_only:
        client.get_funding_rate_history(category="linear", symbol="BTCUSDT", startTime=1)
    assert start_only.value.status_code == 10001
    assert [rate.time for rate in bybit.funding_history("BTCUSDT")] == [first, first + timedelta(hours=8)]
    assert bybit.funding_history("BTCUSDT", since=first + timedelta(hours=1))[0].time == first + timedelta(
        hours=8
    )
    assert paper.positions()[0].funding == D("0.6")  # 2 x 0.1 x 30,000 x 0.01%, received by the short


def test_the_adapter_trades_a_perpetual_end_to_end(bybit: BybitExchange, paper: PaperExchange):
    assert bybit.supports_perpetuals
    instrument = bybit.perpetual_instrument("BTCUSDT")
    assert (instrument.quantity_step, instrument.taker_fee, instrument.maker_fee) == (
        D("0.001"),
        D("0.00055"),
        D("0.0002"),
    )
    bybit.set_one_way_mode("BTCUSDT")  # 110025 from Bybit: already one-way, success here
    bybit.set_leverage("BTCUSDT", D("20"))
    bybit.set_leverage("BTCUSDT", D("20"))  # 110043: idempotent
    with pytest.raises(LeverageRejected):
        bybit.set_leverage("BTCUSDT", D("101"))

    opened = bybit.place_order(linear(Side.BUY, "0.2", "30000", "open"))
    assert (opened.status, opened.kind, opened.reduce_only) == (OrderStatus.FILLED, LINEAR, False)
    take_profit = bybit.place_order(linear(Side.SELL, "0.2", "31000", "tp", reduce_only=True))
    assert (take_profit.status, take_profit.reduce_only) == (OrderStatus.NEW, True)
    with pytest.raises(InvalidOrder) as refused:
        bybit.place_order(linear(Side.BUY, "0.1", None, "more", reduce_only=True))
    assert refused.value.reason is InvalidOrderReason.REDUCE_ONLY

    (position,) = bybit.positions()
    direct = paper.positions()[0]
    assert (position.side, position.size, position.entry_price, position.leverage) == (
        PositionSide.LONG,
        D("0.2"),
        D("30000"),
        D("20"),
    )
    assert (position.liquidation_price, position.bankruptcy_price, position.position_margin) == (
        direct.liquidation_price,
        direct.bankruptcy_price,
        direct.position_margin,
    )
    assert position.funding is None  # Bybit folds funding into realised PnL
    assert bybit.mark_price("BTCUSDT") == PRICE

    market.set_price("BTCUSDT", D("31000"))

    assert bybit.positions() == []
    (flat,) = bybit.positions("BTCUSDT")
    assert flat.is_flat
    # +200 on the close, less the taker fee to open (3.3) and the maker fee to close (1.24)
    assert flat.realised_pnl == D("195.46")
    assert bybit.balances()["USDT"].total == D("10000") + D("195.46")
    # Spot stays spot: the spot order list never saw these.
    assert bybit.order_history("BTCUSDT") == []


def test_funding_settlements_are_executions_of_their_own(client, bybit: BybitExchange, paper: PaperExchange):
    bybit.place_order(linear(Side.SELL, "0.1", None, "short"))
    first = perpetual.funding_times(timezone.now(), timezone.now() + timedelta(hours=8))[0]
    market.set_price("BTCUSDT", PRICE, at=first + timedelta(seconds=1))
    market.set_price("BTCUSDT", PRICE, at=first + timedelta(hours=8, seconds=1))
    window = {  # from just before the trade to a day past the funding times
        "startTime": int((timezone.now() - timedelta(minutes=1)).timestamp() * 1000),
        "endTime": int((first + timedelta(days=1)).timestamp() * 1000),
    }

    body = client.get_executions(category="linear", symbol="BTCUSDT", execType="Funding", **window)

    rows = body["result"]["list"]
    assert [row["execType"] for row in rows] == ["Funding", "Funding"]
    assert [row["execFee"] for row in rows] == ["-0.3", "-0.3"]  # received by the short: 0.1 x 30,000 x 0.01%
    assert {(row["side"], row["execQty"], row["execPrice"], row["orderLinkId"]) for row in rows} == {
        ("Sell", "0.1", "30000", "")
    }
    payments = [convert.funding_payment(row) for row in reversed(rows)]
    assert payments == paper.funding_payments("BTCUSDT")
    assert [p.amount for p in payments] == [D("0.3"), D("0.3")]
    assert [p.size for p in payments] == [D("-0.1"), D("-0.1")]
    # The trade's own execution is still listed beside them, and only it counts as a fill.
    everything = client.get_executions(category="linear", symbol="BTCUSDT", **window)["result"]["list"]
    assert sorted(row["execType"] for row in everything) == ["Funding", "Funding", "Trade"]
    until_now = client.get_executions(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert [row["execType"] for row in until_now] == ["Trade"]
    assert [fill.client_order_id for fill in bybit.fills_since("BTCUSDT", None, kind=LINEAR)] == ["short"]
    assert bybit.funding_payments("BTCUSDT") == []  # settlements after now are not listed yet


def test_risk_limits_come_from_the_venue(client, bybit: BybitExchange):
    rows = client.get_risk_limit(category="linear", symbol="BTCUSDT")["result"]["list"]
    assert [row["riskLimitValue"] for row in rows] == ["300000", "2000000", "2600000"]
    assert rows[0] | {"id": 1} == {
        "id": 1,
        "symbol": "BTCUSDT",
        "riskLimitValue": "300000",
        "maintenanceMargin": "0.0033",
        "initialMargin": "0.0066",
        "isLowestRisk": 1,
        "maxLeverage": "150.00",
        "mmDeduction": "",
    }
    assert rows[1]["mmDeduction"] == "510"
    assert bybit.risk_tiers("BTCUSDT") == margin.BTCUSDT_TIERS
    with pytest.raises(InvalidOrder, match="symbol invalid"):
        bybit.risk_tiers("NOPEUSDT")
