"""A paper market's candles: from its first minute, its feed's history leads up to its price."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path

import pytest
from django.conf import settings
from django.utils import timezone

from exchanges.base import Candle
from exchanges.paper import market
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.feeds import OPENING_POSITION, RandomWalkFeed, feed_for
from exchanges.paper.models import PaperTick
from exchanges.paper.service import open_paper_account
from exchanges.simulator.server import running_simulator
from exchanges.tasks import advance_paper_markets
from exchanges.tests.conftest import connect

DATA_DIR = Path(settings.PRICE_DATA_DIR)
A_MINUTE_OF_BEAT = 30  # feed steps in a minute at the default PAPER_FEED_INTERVAL of 2 s
TWO_DAYS_OF_15M = 2 * 24 * 4


def opened_a_minute_ago() -> PaperExchange:
    """What a fresh install has a minute after beat started: the markets' first feed steps."""
    assert not PaperTick.objects.exists(), "a fresh database"
    for _ in range(A_MINUTE_OF_BEAT):
        advance_paper_markets()
    return PaperExchange(open_paper_account("fresh", {"USDT": Decimal("1000")}))


def last_two_days(venue: PaperExchange, symbol: str, interval: str) -> list[Candle]:
    end = timezone.now()
    return venue.candles(symbol, interval, end - timedelta(days=2), end)


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])  # the replayed file, and a random walk
def test_a_market_has_two_days_of_candles_a_minute_after_it_opened(db: None, symbol: str) -> None:
    venue = opened_a_minute_ago()

    candles = last_two_days(venue, symbol, "15m")

    assert len(candles) >= TWO_DAYS_OF_15M
    assert candles[-1].close == market.last_price(symbol), "they end at the market's price"
    # They lead up to it without a jump: each candle opens within one feed step of the last close.
    assert all(abs(later.open / earlier.close - 1) < Decimal("0.02") for earlier, later in pairwise(candles))
    assert all(c.low <= min(c.open, c.close) <= max(c.open, c.close) <= c.high for c in candles)


def test_the_history_is_the_feed_leading_up_to_where_the_market_opened(db: None) -> None:
    venue = opened_a_minute_ago()
    opened_at = PaperTick.objects.filter(symbol="BTCUSDT").earliest("time").time

    five = last_two_days(venue, "BTCUSDT", "5m")

    before = [candle for candle in five if candle.open_time + timedelta(minutes=5) <= opened_at]
    leading_up = feed_for("BTCUSDT").history(OPENING_POSITION, len(before))
    assert len(before) >= 2 * 24 * 12 - 1
    assert [c.close for c in before] == [point.price for point in leading_up]
    assert [(c.high, c.low, c.volume) for c in before[1:]] == [
        (max(p.high, earlier.price, p.price), min(p.low, earlier.price, p.price), p.volume)
        for earlier, p in pairwise(leading_up)
    ]
    # Re-timed: the last of them ends where the market's own ticks begin, now.
    assert opened_at - before[-1].open_time <= timedelta(minutes=10)
    assert timezone.now() - opened_at < timedelta(minutes=1)


def test_a_market_whose_prices_were_set_by_hand_has_only_its_ticks(db: None) -> None:
    venue = PaperExchange(open_paper_account("by hand", {"USDT": Decimal("1000")}))
    market.set_price("BTCUSDT", Decimal("54000"))
    market.set_price("BTCUSDT", Decimal("54100"))

    candles = last_two_days(venue, "BTCUSDT", "15m")

    assert [(c.open, c.close) for c in candles] == [(Decimal("54000"), Decimal("54100"))]


def test_a_market_opened_on_another_feed_borrows_no_unrelated_history(db: None) -> None:
    """The simulator's random feed opened it: the replay file's past is not its past."""
    walk = RandomWalkFeed(seed=3, start=Decimal("30000"), tick=Decimal("0.1"))
    for _ in range(3):
        market.advance("BTCUSDT", walk)
    venue = PaperExchange(open_paper_account("walked", {"USDT": Decimal("1000")}))

    candles = last_two_days(venue, "BTCUSDT", "15m")

    assert len(candles) == 1
    assert candles[0].close == walk.point_at(OPENING_POSITION + 2).price


@pytest.mark.django_db(transaction=True)
def test_the_simulator_serves_the_same_history_as_klines_through_pybit() -> None:
    for _ in range(A_MINUTE_OF_BEAT):
        advance_paper_markets()
    with running_simulator() as simulator:
        simulator.add_key("history-key", "history-secret-0123456789abcdef01", balances={"USDT": Decimal(1)})
        bybit = connect(simulator, "history-key", "history-secret-0123456789abcdef01")
        paper = PaperExchange(open_paper_account("direct", {}))
        end = datetime.now(UTC)
        start = end - timedelta(days=2)

        over_the_wire = bybit.candles("BTCUSDT", "15m", start, end)

    assert len(over_the_wire) >= TWO_DAYS_OF_15M
    assert over_the_wire == paper.candles("BTCUSDT", "15m", start, end)
    assert over_the_wire[-1].close == market.last_price("BTCUSDT")
