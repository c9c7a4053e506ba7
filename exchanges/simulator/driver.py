"""Moves the paper market along a price feed in a background thread, at a chosen speed."""

from __future__ import annotations

import logging
import threading
from decimal import Decimal

from django.db import connections

from exchanges.paper import market
from exchanges.paper.engine import current_price
from exchanges.paper.feeds import POINT_SPAN, RANDOM_WALK_STARTS, PriceFeed, RandomWalkFeed, feed_for
from exchanges.paper.instruments import INSTRUMENTS, instrument_for

logger = logging.getLogger(__name__)

FEEDS = ("replay", "random", "none")


def make_feed(kind: str, symbol: str) -> PriceFeed:
    if kind == "replay":
        return feed_for(symbol)  # falls back to a seeded walk where no data exists
    start = RANDOM_WALK_STARTS.get(symbol, Decimal("100"))
    return RandomWalkFeed(seed=sum(map(ord, symbol)), start=start, tick=instrument_for(symbol).tick_size)


def ensure_prices(kind: str) -> None:
    """Every market needs a price before it can trade: a new one takes its feed's first step,
    which opens it with the feed's history behind it."""
    for symbol in INSTRUMENTS:
        try:
            current_price(symbol)
        except Exception:  # noqa: BLE001 - "no price yet" is whatever the engine raises
            market.advance(symbol, make_feed("random" if kind == "none" else kind, symbol))


class FeedDriver:
    """Advances every symbol one feed point per `5 minutes / speed` of wall time."""

    def __init__(self, kind: str, speed: float) -> None:
        self.feeds = {symbol: make_feed(kind, symbol) for symbol in INSTRUMENTS}
        self.interval = POINT_SPAN.total_seconds() / speed
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bybit-simulator-feed", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                for symbol, feed in self.feeds.items():
                    fills = market.advance(symbol, feed)
                    logger.debug("%s moved to %s (%d fills)", symbol, market.last_price(symbol), len(fills))
        finally:
            connections.close_all()
