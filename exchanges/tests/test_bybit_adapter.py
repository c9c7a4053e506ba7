"""The Bybit adapter, through the real pybit client over real HTTP, against the simulator."""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import requests

from exchanges.base import (
    AuthError,
    DuplicateClientOrderId,
    ExchangeUnavailable,
    InsufficientBalance,
    InvalidOrder,
    InvalidOrderReason,
    OrderNotFound,
    OrderRequest,
    OrderStatus,
    OrderType,
    PermissionDenied,
    RateLimited,
    Side,
    TimeInForce,
)
from exchanges.bybit.adapter import BybitExchange
from exchanges.tests.conftest import KEY, PRICE, connect

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def to_ms(items):
    """Bybit reports times in milliseconds; the paper engine keeps microseconds."""

    def cut(moment):
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000)

    changes = {"created_at": cut, "updated_at": cut, "time": cut}
    return [
        replace(
            item, **{name: fix(getattr(item, name)) for name, fix in changes.items() if hasattr(item, name)}
        )
        for item in items
    ]


def limit(cid, side=Side.BUY, price="29000", quantity="0.01", symbol="BTCUSDT"):
    return OrderRequest(symbol, side, OrderType.LIMIT, Decimal(quantity), cid, Decimal(price))


def market_order(cid, side=Side.BUY, quantity="0.01"):
    return OrderRequest("BTCUSDT", side, OrderType.MARKET, Decimal(quantity), cid)


# Reads agree with the paper engine behind the simulator ----------------------------


def test_instruments_match_the_paper_engine(bybit, paper):
    assert bybit.instruments() == paper.instruments()
    assert bybit.instrument("ETHUSDT") == paper.instrument("ETHUSDT")


def test_an_unlisted_symbol_is_unknown(bybit):
    with pytest.raises(InvalidOrder) as caught:
        bybit.instrument("DOGEUSDT")
    assert caught.value.reason is InvalidOrderReason.UNKNOWN_SYMBOL


def test_ticker_and_balances_match(bybit, paper):
    ticker = bybit.ticker("BTCUSDT")

    assert ticker.last == PRICE
    assert (ticker.bid, ticker.ask) == (paper.ticker("BTCUSDT").bid, paper.ticker("BTCUSDT").ask)
    assert bybit.balances() == {asset: b for asset, b in paper.balances().items() if b.total}


def test_candles_match(bybit, paper):
    from exchanges.paper import market

    for price in ("30010", "30020", "29990"):
        market.set_price("BTCUSDT", Decimal(price))
    end = datetime.now(UTC) + timedelta(minutes=1)
    start = end - timedelta(days=2)

    assert bybit.candles("BTCUSDT", "1m", start, end) == paper.candles("BTCUSDT", "1m", start, end)
    assert bybit.candles("BTCUSDT", "1h", start, end) == paper.candles("BTCUSDT", "1h", start, end)


# Orders ---------------------------------------------------------------------------


def test_a_post_only_order_that_would_take_is_accepted_then_rejected_as_on_bybit(bybit, paper):
    """Bybit v5 answers retCode 0, then the order reads back Rejected, EC_PostOnlyWillTakeLiquidity."""
    crossing = replace(limit("maker-only", price=str(PRICE + 100)), time_in_force=TimeInForce.POST_ONLY)

    placed = bybit.place_order(crossing)

    assert (placed.status, placed.filled_quantity, placed.post_only_refused) == (
        OrderStatus.REJECTED,
        Decimal(0),
        True,
    )
    assert placed.reject_reason == "EC_PostOnlyWillTakeLiquidity"
    assert bybit.open_orders("BTCUSDT") == []
    assert bybit.fills_since("BTCUSDT", None) == []
    assert bybit.balances()["USDT"].locked == 0
    resting = replace(limit("maker-rests", price=str(PRICE - 100)), time_in_force=TimeInForce.POST_ONLY)
    assert bybit.place_order(resting).status is OrderStatus.NEW


def test_place_find_cancel_a_limit_order(bybit, paper):
    placed = bybit.place_order(limit("grid-1"))

    assert placed.status is OrderStatus.NEW
    assert placed.client_order_id == "grid-1"
    assert placed.exchange_order_id == paper.order("BTCUSDT", "grid-1").exchange_order_id
    assert [o.client_order_id for o in bybit.open_orders("BTCUSDT")] == ["grid-1"]
    assert bybit.open_orders() == to_ms(paper.open_orders())
    assert bybit.balances()["USDT"].locked == paper.balances()["USDT"].locked > 0

    bybit.cancel_order("BTCUSDT", client_order_id="grid-1")

    assert bybit.order("BTCUSDT", "grid-1").status is OrderStatus.CANCELLED
    assert bybit.open_orders("BTCUSDT") == []
    assert [o.client_order_id for o in bybit.order_history("BTCUSDT")] == ["grid-1"]
    with pytest.raises(OrderNotFound):
        bybit.cancel_order("BTCUSDT", client_order_id="grid-1")
    with pytest.raises(OrderNotFound):
        bybit.order("BTCUSDT", "never-placed")


def test_a_market_buy_is_in_base_coin_and_its_fill_is_reported(bybit, paper):
    before = datetime.now(UTC) - timedelta(seconds=1)

    placed = bybit.place_order(market_order("mkt-1", quantity="0.01"))

    assert placed.status is OrderStatus.FILLED
    assert placed.filled_quantity == Decimal("0.01")  # not 0.01 USDT worth
    fills = bybit.fills_since("BTCUSDT", before)
    assert fills == to_ms(paper.fills_since("BTCUSDT", before))
    assert [f.client_order_id for f in fills] == ["mkt-1"]
    assert bybit.fills_since("BTCUSDT", None) == fills
    assert bybit.fills_since("BTCUSDT", datetime.now(UTC) + timedelta(seconds=5)) == []


def test_resting_orders_fill_when_the_price_crosses_and_fills_come_oldest_first(bybit, paper):
    from exchanges.paper import market

    since = datetime.now(UTC) - timedelta(seconds=1)
    bybit.place_order(limit("buy-a", price="29900"))
    bybit.place_order(limit("buy-b", price="29800"))
    market.set_price("BTCUSDT", Decimal("29850"))
    market.set_price("BTCUSDT", Decimal("29700"))

    fills = bybit.fills_since("BTCUSDT", since)

    assert fills == to_ms(paper.fills_since("BTCUSDT", since))
    assert [f.client_order_id for f in fills] == ["buy-a", "buy-b"]
    assert [f.time for f in fills] == sorted(f.time for f in fills)
    assert bybit.order("BTCUSDT", "buy-a").status is OrderStatus.FILLED


def test_fills_are_paginated_with_the_cursor(bybit, paper, monkeypatch):
    from exchanges.bybit import adapter

    since = datetime.now(UTC) - timedelta(seconds=1)
    for n in range(5):
        bybit.place_order(market_order(f"m-{n}", quantity="0.001"))
    monkeypatch.setattr(adapter, "EXECUTION_PAGE_LIMIT", 2)

    fills = bybit.fills_since("BTCUSDT", since)

    assert [f.client_order_id for f in fills] == [f"m-{n}" for n in range(5)]
    assert fills == to_ms(paper.fills_since("BTCUSDT", since))


def test_cancel_all_returns_the_cancelled_client_ids(bybit):
    for cid, price in (("a", "29000"), ("b", "28000")):
        bybit.place_order(limit(cid, price=price))
    bybit.place_order(limit("eth", price="1900", symbol="ETHUSDT"))

    assert sorted(bybit.cancel_all_orders("BTCUSDT")) == ["a", "b"]
    assert [o.client_order_id for o in bybit.open_orders()] == ["eth"]


def test_order_history_is_newest_first_and_limited(bybit):
    for n in range(3):
        bybit.place_order(limit(f"h-{n}", price=str(28000 + n)))
        bybit.cancel_order("BTCUSDT", client_order_id=f"h-{n}")

    assert [o.client_order_id for o in bybit.order_history("BTCUSDT", limit=2)] == ["h-2", "h-1"]


@pytest.mark.parametrize(
    ("request_", "error", "reason"),
    [
        (limit("big", quantity="5"), InsufficientBalance, None),
        (limit("tiny", quantity="0.00001"), InvalidOrder, InvalidOrderReason.QUANTITY_TOO_SMALL),
        (limit("steps", quantity="0.0100001"), InvalidOrder, InvalidOrderReason.QUANTITY_PRECISION),
        (limit("ticks", price="29000.05"), InvalidOrder, InvalidOrderReason.PRICE_PRECISION),
        (limit("cheap", price="100", quantity="0.0001"), InvalidOrder, InvalidOrderReason.AMOUNT_TOO_SMALL),
        (limit("nosuch", symbol="DOGEUSDT"), InvalidOrder, InvalidOrderReason.UNKNOWN_SYMBOL),
    ],
    ids=lambda value: getattr(value, "client_order_id", None) or "",
)
def test_definite_rejections_map_to_our_errors(bybit, paper, request_, error, reason):
    with pytest.raises(error) as caught:
        bybit.place_order(request_)

    assert getattr(caught.value, "reason", None) == reason
    assert caught.value.code is not None
    assert paper.open_orders() == []


def test_a_duplicate_client_order_id_is_refused(bybit, paper):
    bybit.place_order(limit("twice"))

    with pytest.raises(DuplicateClientOrderId):
        bybit.place_order(limit("twice", price="28000"))
    assert len(paper.open_orders()) == 1


# Keys -----------------------------------------------------------------------------


def test_check_api_key_reports_each_kind_of_key(simulator):
    simulator.add_key("withdrawer", "s1", can_withdraw=True)
    simulator.add_key("reader", "s2", read_only=True)
    simulator.add_key("bound", "s3", ips=("127.0.0.1", "10.0.0.7"))

    trader = connect(simulator).check_api_key()
    withdrawer = connect(simulator, "withdrawer", "s1").check_api_key()
    reader = connect(simulator, "reader", "s2").check_api_key()
    bound = connect(simulator, "bound", "s3").check_api_key()

    assert (trader.can_trade_spot, trader.can_withdraw, trader.read_only) == (True, False, False)
    assert trader.ip_whitelist == ()
    assert trader.expires_at is not None  # Bybit expires keys bound to no IP
    assert withdrawer.can_withdraw is True
    assert (reader.read_only, reader.can_trade_spot) == (True, False)
    assert bound.ip_whitelist == ("127.0.0.1", "10.0.0.7")
    assert bound.expires_at is None


def test_a_read_only_key_cannot_trade(simulator):
    simulator.add_key("reader", "s2", read_only=True)

    with pytest.raises(PermissionDenied) as caught:
        connect(simulator, "reader", "s2").place_order(limit("nope"))
    assert caught.value.code == "10005"


def test_a_key_bound_to_another_ip_is_refused(simulator):
    simulator.add_key("elsewhere", "s4", ips=("10.9.9.9",))

    with pytest.raises(PermissionDenied) as caught:
        connect(simulator, "elsewhere", "s4").balances()
    assert caught.value.code == "10010"


def test_bad_keys_are_auth_errors(simulator):
    with pytest.raises(AuthError) as wrong_secret:
        connect(simulator, KEY, "not-the-secret").balances()
    with pytest.raises(AuthError) as unknown:
        connect(simulator, "stranger", "x").balances()
    simulator.faults.configure(rejected_keys=[KEY])
    with pytest.raises(AuthError) as revoked:
        connect(simulator).balances()

    assert (wrong_secret.value.code, unknown.value.code, revoked.value.code) == ("10004", "10003", "10003")


# Rate limits and unavailability ----------------------------------------------------


def test_reads_wait_out_a_rate_limit_then_succeed(simulator, bybit):
    simulator.faults.configure(rate_limit_requests=2, rate_limit_reset_ms=150)
    started = time.monotonic()

    assert bybit.balances()["USDT"].total == Decimal("10000")
    assert time.monotonic() - started >= 0.25  # two waits for the advertised reset
    assert simulator.faults.snapshot()["rate_limit_requests"] == 0


def test_reads_give_up_with_rate_limited_and_retry_after(simulator, bybit):
    simulator.faults.configure(rate_limit_requests=10, rate_limit_reset_ms=300)

    with pytest.raises(RateLimited) as caught:
        bybit.balances()
    assert caught.value.code == "10006"
    assert 0 < caught.value.retry_after <= 0.3
    assert simulator.faults.snapshot()["rate_limit_requests"] == 10 - 3  # one try, two retries


def test_the_real_per_key_limit_applies_and_placement_is_not_retried(simulator, transactional_db):
    from exchanges.simulator.server import running_simulator

    with running_simulator(rate_limits={"/v5/order/create": 2}) as strict:
        strict.add_key("k", "s")
        exchange = connect(strict, "k", "s")
        exchange.place_order(limit("r-1"))
        exchange.place_order(limit("r-2", price="28000"))
        with pytest.raises(RateLimited) as caught:
            exchange.place_order(limit("r-3", price="27000"))
        assert caught.value.retry_after <= 1.0
        assert {o.client_order_id for o in exchange.open_orders()} == {"r-1", "r-2"}


def test_server_errors_on_reads_are_retried(simulator, bybit):
    simulator.faults.configure(server_error_requests=2)

    assert bybit.ticker("BTCUSDT").last == PRICE


def test_server_errors_on_reads_end_in_exchange_unavailable(simulator, bybit):
    simulator.faults.configure(server_error_requests=5, server_error_status=502)

    with pytest.raises(ExchangeUnavailable) as caught:
        bybit.ticker("BTCUSDT")
    assert caught.value.code == "502"
    assert simulator.faults.snapshot()["server_error_requests"] == 2  # three attempts


def test_a_server_error_on_placement_is_not_retried(simulator, bybit, paper):
    simulator.faults.configure(server_error_requests=2)

    with pytest.raises(ExchangeUnavailable):
        bybit.place_order(limit("once"))
    assert simulator.faults.snapshot()["server_error_requests"] == 1
    assert paper.open_orders() == []


def test_a_rate_limit_on_placement_is_not_retried(simulator, bybit):
    simulator.faults.configure(rate_limit_requests=2, rate_limit_reset_ms=100)

    with pytest.raises(RateLimited):
        bybit.place_order(limit("once"))
    assert simulator.faults.snapshot()["rate_limit_requests"] == 1


@pytest.mark.parametrize(("mode", "delay"), [("drop", 0.0), ("delay", 1.0)])
def test_an_accepted_order_whose_reply_is_lost_is_found_later_and_exists_once(simulator, paper, mode, delay):
    bybit = connect(simulator, timeout=0.5)
    simulator.faults.configure(lose_order_responses=1, lose_mode=mode, lose_delay=delay)

    with pytest.raises(ExchangeUnavailable):
        bybit.place_order(limit("lost-1"))

    found = bybit.order("BTCUSDT", "lost-1")
    assert found.status is OrderStatus.NEW
    assert [o.client_order_id for o in paper.open_orders()] == ["lost-1"]
    with pytest.raises(DuplicateClientOrderId):  # a blind re-send would be refused, not doubled
        bybit.place_order(limit("lost-1"))
    assert len(paper.open_orders()) == 1


def test_a_cancel_whose_reply_is_lost_is_not_resent(simulator, bybit, paper):
    bybit.place_order(limit("c-1"))
    simulator.faults.configure(server_error_requests=1)

    with pytest.raises(ExchangeUnavailable):
        bybit.cancel_order("BTCUSDT", client_order_id="c-1")
    assert bybit.order("BTCUSDT", "c-1").status is OrderStatus.NEW


def test_latency_is_added(simulator, bybit):
    simulator.faults.configure(latency=0.2)
    started = time.monotonic()

    bybit.ticker("BTCUSDT")
    assert time.monotonic() - started >= 0.2


def test_faults_over_http_only_when_allowed(simulator, transactional_db):
    from exchanges.simulator.server import running_simulator

    reply = requests.post(f"{simulator.url}/__simulator/faults", json={"server_error_requests": 1}, timeout=2)
    assert reply.json()["server_error_requests"] == 1
    assert requests.get(f"{simulator.url}/v5/market/time", timeout=2).status_code == 503
    assert (
        requests.post(f"{simulator.url}/__simulator/faults", json={"nope": 1}, timeout=2).status_code == 400
    )

    with running_simulator() as locked:
        assert requests.post(f"{locked.url}/__simulator/faults", json={}, timeout=2).status_code == 404


def test_exchange_unavailable_when_nothing_listens():
    exchange = BybitExchange("k", "s", environment="custom", base_url="http://127.0.0.1:9", read_retries=1)
    exchange.backoff = 0.01

    with pytest.raises(ExchangeUnavailable):
        exchange.place_order(limit("void"))
    with pytest.raises(ExchangeUnavailable):
        exchange.balances()


def test_the_key_placed_orders_belong_to_its_own_account(simulator, bybit, paper):
    simulator.add_key("other", "s5")
    connect(simulator, "other", "s5").place_order(limit("theirs"))

    assert bybit.open_orders() == []
    assert paper.open_orders() == []
    assert KEY in simulator.keys


@pytest.mark.django_db(transaction=True)
def test_wallet_balance_answers_while_a_market_has_no_price_yet() -> None:
    from exchanges.paper import market
    from exchanges.simulator.server import running_simulator
    from exchanges.tests.conftest import connect

    market.set_price("BTCUSDT", Decimal("30000"))  # ETHUSDT has no price at all
    with running_simulator() as simulator:
        simulator.add_key("fresh-key", "fresh-secret", balances={"USDT": Decimal("100"), "ETH": Decimal("2")})
        balances = connect(simulator, "fresh-key", "fresh-secret").balances()
    assert balances["USDT"].free == Decimal("100")
    assert balances["ETH"].free == Decimal("2")
