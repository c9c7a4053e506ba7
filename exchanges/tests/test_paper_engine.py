from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from django.utils import timezone

from exchanges.base import (
    DuplicateClientOrderId,
    InvalidOrder,
    InvalidOrderReason,
    OrderRequest,
    OrderStatus,
    OrderType,
    Side,
    TimeInForce,
)
from exchanges.paper import market
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.feeds import OPENING_POSITION, RandomWalkFeed, ReplayFeed, feed_for
from exchanges.paper.models import PaperFill, PaperMarket
from exchanges.paper.service import open_paper_account
from exchanges.tasks import advance_paper_markets

pytestmark = pytest.mark.django_db

DATA_DIR = Path(settings.PRICE_DATA_DIR)


@pytest.fixture
def paper() -> PaperExchange:
    market.set_price("BTCUSDT", Decimal("20000"))
    return PaperExchange(open_paper_account("engine", {"USDT": Decimal("10000"), "BTC": Decimal("1")}))


def buy(quantity: str, price: str, client_id: str, tif: TimeInForce = TimeInForce.GTC) -> OrderRequest:
    return OrderRequest(
        "BTCUSDT", Side.BUY, OrderType.LIMIT, Decimal(quantity), client_id, Decimal(price), tif
    )


def test_thin_volume_fills_best_price_first_and_leaves_a_partial(paper: PaperExchange) -> None:
    paper.place_order(buy("0.2", "19500", "high"))
    paper.place_order(buy("0.2", "19400", "low"))

    fills = market.set_price("BTCUSDT", Decimal("19300"), volume=Decimal("0.3"))

    assert [(f.client_order_id, f.quantity) for f in fills] == [
        ("high", Decimal("0.2")),
        ("low", Decimal("0.1")),
    ]
    low = paper.order("BTCUSDT", "low")
    assert (low.status, low.filled_quantity, low.remaining_quantity) == (
        OrderStatus.PARTIALLY_FILLED,
        Decimal("0.1"),
        Decimal("0.1"),
    )
    assert paper.balances()["USDT"].locked == Decimal("0.1") * Decimal("19400")

    market.set_price("BTCUSDT", Decimal("19350"), volume=Decimal("5"))
    assert paper.order("BTCUSDT", "low").status is OrderStatus.FILLED
    assert paper.balances()["USDT"].locked == 0
    assert (
        paper.balances()["USDT"].total == Decimal("10000") - Decimal("0.2") * 19500 - Decimal("0.2") * 19400
    )


def test_partial_fill_then_cancel_returns_only_the_unfilled_reserve(paper: PaperExchange) -> None:
    paper.place_order(buy("0.5", "19000", "p"))
    market.set_price("BTCUSDT", Decimal("18900"), volume=Decimal("0.2"))
    paper.cancel_order("BTCUSDT", client_order_id="p")

    state = paper.order("BTCUSDT", "p")
    assert (state.status, state.filled_quantity) == (OrderStatus.CANCELLED, Decimal("0.2"))
    usdt = paper.balances()["USDT"]
    assert (usdt.free, usdt.locked) == (Decimal("10000") - Decimal("3800"), Decimal("0"))


def test_candle_range_fills_orders_between_low_and_high(paper: PaperExchange) -> None:
    paper.place_order(buy("0.01", "19800", "dip"))
    fills = market.set_price("BTCUSDT", Decimal("20050"), low=Decimal("19750"), high=Decimal("20100"))
    assert [f.client_order_id for f in fills] == ["dip"]
    assert fills[0].price == Decimal("19800")


def test_marketable_limit_fills_at_the_better_current_price(paper: PaperExchange) -> None:
    state = paper.place_order(buy("0.01", "20500", "eager"))
    assert (state.status, state.average_price) == (OrderStatus.FILLED, Decimal("20000"))
    assert paper.balances()["USDT"] == type(paper.balances()["USDT"])("USDT", Decimal("9800"), Decimal("0"))


def test_post_only_that_would_take_is_rejected(paper: PaperExchange) -> None:
    """As on Bybit, the refused order stays in the history, rejected, with nothing reserved."""
    before = paper.balances()
    with pytest.raises(InvalidOrder) as caught:
        paper.place_order(buy("0.01", "20500", "maker", TimeInForce.POST_ONLY))
    assert caught.value.reason is InvalidOrderReason.POST_ONLY_WOULD_TAKE
    assert not paper.fills_since("BTCUSDT", None)
    assert paper.balances() == before
    refused = paper.order("BTCUSDT", "maker")
    assert (refused.status, refused.filled_quantity, refused.post_only_refused) == (
        OrderStatus.REJECTED,
        Decimal(0),
        True,
    )
    assert not paper.open_orders()
    with pytest.raises(DuplicateClientOrderId):
        paper.place_order(buy("0.01", "19000", "maker", TimeInForce.POST_ONLY))


def test_post_only_that_would_rest_is_placed(paper: PaperExchange) -> None:
    state = paper.place_order(buy("0.01", "19500", "resting", TimeInForce.POST_ONLY))
    assert (state.status, state.post_only_refused) == (OrderStatus.NEW, False)


def test_state_survives_a_new_exchange_instance(paper: PaperExchange) -> None:
    paper.place_order(buy("0.01", "19000", "kept"))
    reopened = PaperExchange(type(paper.account).objects.get(pk=paper.account.pk))
    assert [o.client_order_id for o in reopened.open_orders()] == ["kept"]
    assert reopened.balances()["USDT"].locked == Decimal("190")


def test_no_price_yet_is_an_unknown_outcome_not_a_crash(db: None) -> None:
    from exchanges.base import ExchangeUnavailable

    paper = PaperExchange(open_paper_account("early"))
    with pytest.raises(ExchangeUnavailable):
        paper.place_order(buy("0.01", "19000", "early"))


def test_every_fill_has_a_unique_trade_id_in_the_database(paper: PaperExchange) -> None:
    for i in range(5):
        paper.place_order(buy("0.001", str(19900 - i * 10), f"o{i}"))
    market.set_price("BTCUSDT", Decimal("19000"))
    assert PaperFill.objects.count() == 5
    with connection.cursor() as cursor:
        cursor.execute("SELECT COUNT(DISTINCT trade_id) FROM exchanges_paperfill")
        assert cursor.fetchone()[0] == 5


def test_fill_signal_is_sent_after_commit(paper: PaperExchange, django_capture_on_commit_callbacks) -> None:
    received: list[dict] = []

    def listener(**kwargs: object) -> None:
        received.append(kwargs)

    market.fills_recorded.connect(listener)
    try:
        paper.place_order(buy("0.01", "19900", "wake"))
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            market.set_price("BTCUSDT", Decimal("19800"))
        assert received == []
        for callback in callbacks:
            callback()
    finally:
        market.fills_recorded.disconnect(listener)
    assert received[0]["account_ids"] == [paper.account.pk]
    assert [f.client_order_id for f in received[0]["fills"]] == ["wake"]


def test_candles_bucket_the_ticks(paper: PaperExchange) -> None:
    now = timezone.now()
    start = now.replace(minute=now.minute - now.minute % 5, second=0, microsecond=0) - timedelta(minutes=15)
    for minute, price in [(0, "100"), (0, "105"), (1, "95"), (6, "110")]:
        market.set_price("BTCUSDT", Decimal(price), at=start + timedelta(minutes=minute, seconds=1))
    candles = paper.candles("BTCUSDT", "5m", start, start + timedelta(minutes=9))
    assert [c.open_time for c in candles] == [start, start + timedelta(minutes=5)]
    assert [(c.open, c.high, c.low, c.close) for c in candles] == [
        (Decimal("100"), Decimal("105"), Decimal("95"), Decimal("95")),
        (Decimal("110"), Decimal("110"), Decimal("110"), Decimal("110")),
    ]


def test_replay_feed_reads_the_real_btc_candles() -> None:
    feed = feed_for("BTCUSDT", DATA_DIR)
    assert isinstance(feed, ReplayFeed), f"expected the real data in {DATA_DIR}"
    first = feed.point_at(0)
    assert (first.price, first.high, first.low, first.volume) == (
        Decimal("16726.1"),
        Decimal("16728.8"),
        Decimal("16726"),
        Decimal("691.508"),
    )
    assert len(feed.points) == 10_999
    assert feed.point_at(10_999) == first, "the replay loops"


def test_missing_data_falls_back_to_a_reproducible_random_walk(tmp_path: Path) -> None:
    walk = feed_for("BTCUSDT", tmp_path / "absent")
    again = feed_for("BTCUSDT", tmp_path / "absent")
    assert isinstance(walk, RandomWalkFeed)
    prices = [walk.point_at(i).price for i in range(200)]
    assert prices == [again.point_at(i).price for i in range(200)]
    assert walk.point_at(150) == walk.point_at(150) == again.point_at(150), "a position always reads the same"
    assert all(p % Decimal("0.1") == 0 and p > 0 for p in prices)
    assert len(set(prices)) > 20


def test_advancing_the_market_walks_the_feed_and_remembers_where(db: None, settings) -> None:
    """A new market opens a week into its feed (the week before is its history), then walks on."""
    settings.PRICE_DATA_DIR = str(DATA_DIR)
    advance_paper_markets()
    advance_paper_markets()
    btc = PaperMarket.objects.get(symbol="BTCUSDT")
    assert btc.feed_position == OPENING_POSITION + 2
    assert btc.last_price == feed_for("BTCUSDT", DATA_DIR).point_at(OPENING_POSITION + 1).price
    assert PaperMarket.objects.filter(symbol="ETHUSDT", feed_position=OPENING_POSITION + 2).exists()


@pytest.mark.django_db(transaction=True)
def test_public_ticker_feed_reads_bybit_and_falls_back_when_unreachable(settings) -> None:
    from exchanges.paper.feeds import PublicTickerFeed
    from exchanges.simulator.server import running_simulator

    market.set_price("BTCUSDT", Decimal("31234.5"))
    fallback = RandomWalkFeed(seed=7, start=Decimal("100"), tick=Decimal("0.1"))
    with running_simulator() as simulator:
        live = PublicTickerFeed("BTCUSDT", fallback=fallback, base_url=simulator.url)
        assert live.point_at(0).price == Decimal("31234.5")
        settings.PAPER_FEED, settings.BYBIT_PUBLIC_URL = "bybit", simulator.url
        assert isinstance(feed_for("BTCUSDT"), PublicTickerFeed)
    unreachable = PublicTickerFeed("BTCUSDT", fallback=fallback, base_url="http://127.0.0.1:1")
    assert unreachable.point_at(3) == fallback.point_at(3)
