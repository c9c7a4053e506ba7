"""The exchange contract, run against every venue (paper engine; Bybit through the simulator)."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from exchanges.base import (
    DuplicateClientOrderId,
    InsufficientBalance,
    InvalidOrder,
    InvalidOrderReason,
    OrderNotFound,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
)
from exchanges.tests.conftest import START_PRICE, Venue, paper_venue


def limit(side: Side, quantity: str, price: str, client_id: str) -> OrderRequest:
    return OrderRequest(
        symbol="BTCUSDT",
        side=side,
        order_type=OrderType.LIMIT,
        quantity=Decimal(quantity),
        price=Decimal(price),
        client_order_id=client_id,
    )


def test_lists_instruments_with_bybit_filters(venue: Venue) -> None:
    btc = venue.exchange.instrument("BTCUSDT")
    assert (btc.base, btc.quote, btc.tick_size, btc.quantity_step) == (
        "BTC",
        "USDT",
        Decimal("0.1"),
        Decimal("0.000001"),
    )
    assert (btc.min_quantity, btc.min_amount) == (Decimal("0.000011"), Decimal("5"))
    assert (btc.max_quantity, btc.max_market_quantity, btc.max_amount) == (
        Decimal("83"),
        Decimal("41.5"),
        Decimal("8000000"),
    )
    assert {"BTCUSDT", "ETHUSDT"} <= {i.symbol for i in venue.exchange.instruments()}
    with pytest.raises(InvalidOrder) as caught:
        venue.exchange.instrument("NOPEUSDT")
    assert caught.value.reason is InvalidOrderReason.UNKNOWN_SYMBOL


def test_ticker_follows_the_market(venue: Venue) -> None:
    assert venue.exchange.ticker("BTCUSDT").last == START_PRICE
    venue.move_price("BTCUSDT", Decimal("20100.5"))
    assert venue.exchange.ticker("BTCUSDT").last == Decimal("20100.5")


def test_resting_buy_reserves_quote_and_fills_when_crossed(venue: Venue) -> None:
    ex = venue.exchange
    state = ex.place_order(limit(Side.BUY, "0.01", "19000", "buy-1"))
    assert state.status is OrderStatus.NEW
    assert ex.balances()["USDT"].locked == Decimal("190")
    assert [o.client_order_id for o in ex.open_orders("BTCUSDT")] == ["buy-1"]

    since = timezone.now() - timedelta(seconds=1)
    venue.move_price("BTCUSDT", Decimal("18990"))

    filled = ex.order("BTCUSDT", "buy-1")
    assert (filled.status, filled.filled_quantity, filled.average_price) == (
        OrderStatus.FILLED,
        Decimal("0.01"),
        Decimal("19000"),
    )
    [fill] = ex.fills_since("BTCUSDT", since)
    assert (fill.side, fill.price, fill.quantity, fill.client_order_id) == (
        Side.BUY,
        Decimal("19000"),
        Decimal("0.01"),
        "buy-1",
    )
    assert (fill.fee, fill.fee_asset) == (Decimal("0.00001"), "BTC")
    balances = ex.balances()
    assert balances["USDT"].total == Decimal("9810")
    assert balances["BTC"].total == Decimal("0.5") + Decimal("0.01") - Decimal("0.00001")
    assert ex.open_orders("BTCUSDT") == []


def test_cancel_releases_exactly_what_was_reserved(venue: Venue) -> None:
    ex = venue.exchange
    ex.place_order(limit(Side.SELL, "0.2", "25000", "sell-1"))
    assert ex.balances()["BTC"].locked == Decimal("0.2")
    ex.cancel_order("BTCUSDT", client_order_id="sell-1")
    assert ex.balances()["BTC"] == type(ex.balances()["BTC"])("BTC", Decimal("0.5"), Decimal("0"))
    assert ex.order("BTCUSDT", "sell-1").status is OrderStatus.CANCELLED
    with pytest.raises(OrderNotFound):
        ex.cancel_order("BTCUSDT", client_order_id="sell-1")


def test_cancel_is_scoped_to_the_symbol(venue: Venue) -> None:
    ex = venue.exchange
    ex.place_order(limit(Side.BUY, "0.001", "19000", "scoped"))
    with pytest.raises(OrderNotFound):
        ex.cancel_order("ETHUSDT", client_order_id="scoped")
    assert ex.order("BTCUSDT", "scoped").status is OrderStatus.NEW


def test_cancel_all_cancels_only_that_symbol(venue: Venue) -> None:
    ex = venue.exchange
    ex.place_order(limit(Side.BUY, "0.001", "19000", "a"))
    ex.place_order(limit(Side.BUY, "0.001", "18000", "b"))
    assert sorted(ex.cancel_all_orders("BTCUSDT")) == ["a", "b"]
    assert ex.open_orders() == []
    assert ex.balances()["USDT"].locked == 0


@pytest.mark.parametrize(
    ("quantity", "price", "reason"),
    [
        ("0.01", "19000.05", InvalidOrderReason.PRICE_PRECISION),
        ("0.0100001", "19000", InvalidOrderReason.QUANTITY_PRECISION),
        ("0.00001", "19000", InvalidOrderReason.QUANTITY_TOO_SMALL),
        ("0.0002", "19000", InvalidOrderReason.AMOUNT_TOO_SMALL),
        ("84", "19000", InvalidOrderReason.QUANTITY_TOO_LARGE),
    ],
)
def test_filters_reject_bad_orders(
    venue: Venue, quantity: str, price: str, reason: InvalidOrderReason
) -> None:
    with pytest.raises(InvalidOrder) as caught:
        venue.exchange.place_order(limit(Side.BUY, quantity, price, "bad"))
    assert caught.value.reason is reason
    assert venue.exchange.open_orders() == []
    assert venue.exchange.balances()["USDT"].locked == 0


@pytest.mark.parametrize("side", [Side.BUY, Side.SELL])
def test_a_market_order_above_the_market_maximum_is_refused(venue: Venue, side: Side) -> None:
    request = OrderRequest(
        symbol="BTCUSDT",
        side=side,
        order_type=OrderType.MARKET,
        quantity=Decimal("41.500001"),
        client_order_id="huge-market",
    )
    with pytest.raises(InvalidOrder) as caught:
        venue.exchange.place_order(request)
    assert caught.value.reason is InvalidOrderReason.QUANTITY_TOO_LARGE
    assert venue.exchange.balances()["USDT"].locked == 0


def test_insufficient_balance_changes_nothing(venue: Venue) -> None:
    with pytest.raises(InsufficientBalance):
        venue.exchange.place_order(limit(Side.BUY, "1", "19000", "too-big"))
    balances = venue.exchange.balances()
    assert (balances["USDT"].free, balances["USDT"].locked) == (Decimal("10000"), Decimal("0"))
    with pytest.raises(OrderNotFound):
        venue.exchange.order("BTCUSDT", "too-big")


def test_duplicate_client_order_id_is_refused(venue: Venue) -> None:
    venue.exchange.place_order(limit(Side.BUY, "0.001", "19000", "dup"))
    with pytest.raises(DuplicateClientOrderId):
        venue.exchange.place_order(limit(Side.BUY, "0.001", "18000", "dup"))
    assert len(venue.exchange.open_orders()) == 1
    assert venue.exchange.balances()["USDT"].locked == Decimal("19")


def test_market_buy_fills_at_once_with_slippage_and_taker_fee(venue: Venue) -> None:
    request = OrderRequest(
        symbol="BTCUSDT",
        side=Side.BUY,
        order_type=OrderType.MARKET,
        quantity=Decimal("0.01"),
        client_order_id="mkt",
    )
    state = venue.exchange.place_order(request)
    # 20000 x 1.0005 = 20010, on the 0.1 tick grid.
    assert (state.status, state.average_price) == (OrderStatus.FILLED, Decimal("20010"))
    balances = venue.exchange.balances()
    assert balances["USDT"].total == Decimal("10000") - Decimal("200.1")
    assert balances["BTC"].total == Decimal("0.5") + Decimal("0.01") * (1 - Decimal("0.001"))


def test_fills_are_reported_once_and_history_lists_finished_orders(venue: Venue) -> None:
    ex = venue.exchange
    ex.place_order(limit(Side.SELL, "0.01", "20100", "s1"))
    venue.move_price("BTCUSDT", Decimal("20200"))
    venue.move_price("BTCUSDT", Decimal("20300"))  # crossing again must not fill again
    fills = ex.fills_since("BTCUSDT", None)
    assert len(fills) == 1
    assert len({f.trade_id for f in fills}) == 1
    assert (fills[0].fee, fills[0].fee_asset) == (Decimal("0.201"), "USDT")
    assert ex.balances()["USDT"].total == Decimal("10000") + Decimal("201") - Decimal("0.201")
    assert [o.client_order_id for o in ex.order_history("BTCUSDT")] == ["s1"]


def test_api_key_check_reports_no_withdrawal(venue: Venue) -> None:
    permissions = venue.exchange.check_api_key()
    assert permissions.can_trade_spot
    assert not permissions.can_withdraw


def test_fills_narrowed_to_a_client_id_prefix_keep_every_fill_of_that_prefix(venue: Venue) -> None:
    ex = venue.exchange
    ex.place_order(limit(Side.SELL, "0.01", "20100", "gw7r1-a"))
    ex.place_order(limit(Side.SELL, "0.01", "20150", "gw8r1-a"))
    ex.place_order(limit(Side.SELL, "0.01", "20180", "gw7r1-b"))
    venue.move_price("BTCUSDT", Decimal("20200"))

    everything = ex.fills_since("BTCUSDT", None)
    narrowed = ex.fills_since("BTCUSDT", None, client_order_prefix="gw7r1-")

    assert {f.client_order_id for f in everything} == {"gw7r1-a", "gw8r1-a", "gw7r1-b"}
    # A venue may return more than asked (Bybit cannot filter by prefix), never fewer.
    ours = [f for f in narrowed if f.client_order_id.startswith("gw7r1-")]
    assert [f.client_order_id for f in ours] == ["gw7r1-a", "gw7r1-b"]
    assert {f.trade_id for f in ours} == {f.trade_id for f in everything if f.client_order_id != "gw8r1-a"}


@pytest.mark.django_db
def test_the_paper_venue_leaves_out_other_bots_fills() -> None:
    with paper_venue() as venue:
        venue.exchange.place_order(limit(Side.SELL, "0.01", "20100", "gw7r1-a"))
        venue.exchange.place_order(limit(Side.SELL, "0.01", "20150", "gw70r1-a"))
        venue.move_price("BTCUSDT", Decimal("20200"))

        narrowed = venue.exchange.fills_since("BTCUSDT", None, client_order_prefix="gw7r1-")

    assert [f.client_order_id for f in narrowed] == ["gw7r1-a"]
