"""Bybit's own documented replies read into our types, and the pybit client set up to send once."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from exchanges.base import InstrumentKind, OrderRequest, OrderStatus, OrderType, Side, TimeInForce
from exchanges.bybit import convert
from exchanges.bybit.adapter import BybitExchange, _order_params

EXAMPLES = Path(__file__).resolve().parent / "bybit_v5"


def example(name):
    return json.loads((EXAMPLES / name).read_text())


def test_an_order_from_bybits_realtime_example():
    state = convert.order_state(example("order_realtime_response.json")["result"]["list"][0])

    assert state.exchange_order_id == "fd4300ae-7847-404e-b947-b46980a4d140"
    assert state.client_order_id == "test-000005"
    assert (state.side, state.order_type, state.status) == (Side.BUY, OrderType.LIMIT, OrderStatus.NEW)
    assert state.price == Decimal("1600.00")
    assert state.quantity == Decimal("0.10")
    assert state.filled_quantity == 0
    assert state.average_price is None
    assert state.created_at == datetime(2023, 5, 22, 6, 55, 40, 559000, tzinfo=UTC)
    assert state.reject_reason == ""


def test_an_order_from_bybits_history_example_keeps_its_reject_reason():
    state = convert.order_state(example("order_history_response.json")["result"]["list"][0])

    assert state.status is OrderStatus.CANCELLED
    assert state.reject_reason == "EC_PostOnlyWillTakeLiquidity"
    assert state.post_only_refused, "a post-only order the book would have filled at once"


def test_a_fill_from_bybits_execution_example():
    fill = convert.fill(example("execution_list_response.json")["result"]["list"][0])

    assert fill.trade_id == "e0cbe81d-0f18-5866-9415-cf319b5dab3b"
    assert (fill.price, fill.quantity, fill.fee) == (Decimal("1190.15"), Decimal("0.1"), Decimal("0.071409"))
    assert fill.is_maker is False
    assert fill.time == datetime.fromtimestamp(1672282722.429, tz=UTC)


def test_a_perpetual_fill_without_a_fee_currency_pays_in_the_settle_coin():
    record = example("execution_list_response.json")["result"]["list"][0]  # feeCurrency ""

    assert convert.fill(record, InstrumentKind.LINEAR).fee_asset == "USDT"
    assert convert.fill(record).fee_asset == ""


def test_a_balance_from_bybits_wallet_example():
    coin = example("wallet_balance_response.json")["result"]["list"][0]["coin"][0]

    balance = convert.balance(coin)
    assert (balance.asset, balance.free, balance.locked) == ("BTC", Decimal(0), Decimal(0))


def test_key_permissions_from_bybits_query_api_example():
    permissions = convert.key_permissions(example("user_query_api_response.json")["result"])

    assert permissions.read_only is True
    assert permissions.can_trade_spot is True
    assert permissions.can_withdraw is False
    assert permissions.ip_whitelist == ("18.181.170.164", "13.212.45.47", "13.212.45.48")
    assert permissions.expires_at is None
    assert "apiKey" not in permissions.raw
    assert "secret" not in permissions.raw


def test_instrument_and_ticker_from_bybits_spot_examples():
    record = example("instruments_info_spot_response.json")["result"]["list"][0]
    instrument = convert.instrument(record, {"makerFeeRate": "0.001", "takerFeeRate": "0.001"})
    tickers = example("tickers_spot_response.json")
    ticker = convert.ticker(tickers["result"]["list"][0], tickers["time"])

    assert instrument.tick_size == Decimal("0.1")
    assert instrument.quantity_step == Decimal("0.000001")
    assert (instrument.min_quantity, instrument.min_amount) == (Decimal("0.000011"), Decimal(5))
    assert (instrument.max_quantity, instrument.max_market_quantity, instrument.max_amount) == (
        Decimal("83"),
        Decimal("41.5"),
        Decimal("8000000"),
    )
    assert (ticker.bid, ticker.ask, ticker.last) == (
        Decimal("20517.96"),
        Decimal("20527.77"),
        Decimal("20533.13"),
    )


def test_a_candle_from_bybits_kline_example():
    candle = convert.candle(example("kline_response.json")["result"]["list"][0])

    assert candle.open_time == datetime(2022, 12, 9, 18, 0, tzinfo=UTC)
    assert (candle.open, candle.close, candle.volume) == (Decimal(17071), Decimal("17055.5"), Decimal(268611))


def test_numbers_must_come_as_strings():
    with pytest.raises(TypeError):
        convert.decimal(1.5)  # type: ignore[arg-type]


def test_a_market_order_is_sent_in_the_base_coin_and_decimals_stay_plain():
    market = OrderRequest("BTCUSDT", Side.BUY, OrderType.MARKET, Decimal("1E-5"), "m-1")
    limit = OrderRequest(
        "BTCUSDT",
        Side.SELL,
        OrderType.LIMIT,
        Decimal("0.5"),
        "l-1",
        Decimal("30000.10"),
        TimeInForce.POST_ONLY,
    )

    assert _order_params(market) == {
        "category": "spot",
        "symbol": "BTCUSDT",
        "side": "Buy",
        "orderType": "Market",
        "qty": "0.00001",
        "orderLinkId": "m-1",
        "marketUnit": "baseCoin",
        "timeInForce": "IOC",
    }
    assert _order_params(limit)["price"] == "30000.10"
    assert _order_params(limit)["timeInForce"] == "PostOnly"


@pytest.mark.parametrize(
    ("environment", "endpoint"),
    [
        ("mainnet", "https://api.bybit.com"),
        ("testnet", "https://api-testnet.bybit.com"),
        ("demo", "https://api-demo.bybit.com"),
    ],
)
def test_environments_point_pybit_at_bybits_hosts(environment, endpoint):
    assert BybitExchange("k", "s", environment=environment).endpoint == endpoint


def test_custom_needs_a_base_url_and_uses_it():
    with pytest.raises(ValueError, match="base_url"):
        BybitExchange("k", "s", environment="custom")
    with pytest.raises(ValueError, match="environment"):
        BybitExchange("k", "s", environment="moon")

    assert BybitExchange("k", "s", environment="custom", base_url="http://127.0.0.1:9/").endpoint == (
        "http://127.0.0.1:9"
    )


def test_pybit_is_told_never_to_resend():
    http = BybitExchange("k", "s", timeout=2.5, recv_window=7000)._http

    assert http.max_retries == 1
    assert http.force_retry is False
    assert http.retry_codes == set()
    assert (http.timeout, http.recv_window) == (2.5, 7000)


def test_the_secret_never_shows_in_repr():
    assert "s3cr3t" not in repr(BybitExchange("k", "s3cr3t"))


def test_an_instrument_without_maxima_by_order_type_uses_the_single_maximum_for_both():
    record = example("instruments_info_spot_response.json")["result"]["list"][0]
    lot = {
        key: value
        for key, value in record["lotSizeFilter"].items()
        if key not in ("maxLimitOrderQty", "maxMarketOrderQty")
    }
    instrument = convert.instrument(
        {**record, "lotSizeFilter": lot}, {"makerFeeRate": "0.001", "takerFeeRate": "0.001"}
    )
    assert (instrument.max_quantity, instrument.max_market_quantity) == (Decimal("83"), Decimal("83"))


def test_a_derivatives_style_market_maximum_is_read_too():
    record = example("instruments_info_spot_response.json")["result"]["list"][0]
    lot = {**record["lotSizeFilter"], "maxMktOrderQty": "40"}
    del lot["maxMarketOrderQty"]
    instrument = convert.instrument(
        {**record, "lotSizeFilter": lot}, {"makerFeeRate": "0.001", "takerFeeRate": "0.001"}
    )
    assert instrument.max_market_quantity == Decimal("40")
