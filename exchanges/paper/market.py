"""Moving the paper market's price, and filling what the move crosses."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import transaction
from django.dispatch import Signal
from django.utils import timezone

from exchanges.base import Fill
from exchanges.paper import engine, perpetual
from exchanges.paper.conversions import fill_from_row
from exchanges.paper.feeds import PriceFeed
from exchanges.paper.instruments import instrument_for
from exchanges.paper.models import PaperMarket, PaperTick

# Sent after commit with `account_ids` and `fills`, so whatever trades on
# these accounts can react at once instead of waiting for its next poll.
fills_recorded = Signal()


def last_price(symbol: str) -> Decimal:
    return engine.current_price(symbol)


def set_price(
    symbol: str,
    price: Decimal,
    *,
    volume: Decimal | None = None,
    high: Decimal | None = None,
    low: Decimal | None = None,
    at: datetime | None = None,
    position: int | None = None,
) -> list[Fill]:
    """Move `symbol` to `price` and fill every resting order the move crossed.

    With `high`/`low` (a candle), orders anywhere in that range fill. `position`: the feed
    point this move replays, if it comes from a feed. Perpetual positions on the symbol settle any
    funding time the move passed and are liquidated if the move reached their liquidation price.
    """
    instrument_for(symbol)  # unknown symbols are an error, not a new market
    now = at or timezone.now()
    with transaction.atomic():
        market = _locked_market(symbol, price, now)
        market.last_price = price
        market.updated_at = now
        market.save(update_fields=["last_price", "updated_at"])
        PaperTick.objects.create(
            symbol=symbol, time=now, price=price, volume=volume or Decimal(0), position=position
        )
        low, high = min(low or price, price), max(high or price, price)
        rows = engine.match_resting_orders(market, low=low, high=high, volume=volume)
        # The move is the perpetual's mark too: funding falls due and liquidations trigger on it.
        perpetual.on_price(symbol, mark=price, low=low, high=high, now=now)
        fills = [fill_from_row(row) for row in rows]
        if fills:
            account_ids = sorted({row.account_id for row in rows})
            transaction.on_commit(
                lambda: fills_recorded.send(sender=None, account_ids=account_ids, fills=fills)
            )
    return fills


def _locked_market(symbol: str, price: Decimal, now: datetime) -> PaperMarket:
    PaperMarket.objects.get_or_create(symbol=symbol, defaults={"last_price": price, "updated_at": now})
    return PaperMarket.objects.select_for_update().get(symbol=symbol)


def advance(symbol: str, feed: PriceFeed) -> list[Fill]:
    """Step `symbol` to the feed's next point; the position survives restarts. A new market
    opens at the feed's opening position, with the points before it as its history."""
    with transaction.atomic():
        position = (
            PaperMarket.objects.select_for_update()
            .filter(symbol=symbol)
            .values_list("feed_position", flat=True)
            .first()
        )
        if position is None:
            position = feed.opening_position
        point = feed.point_at(position)
        fills = set_price(
            symbol, point.price, volume=point.volume, high=point.high, low=point.low, position=position
        )
        PaperMarket.objects.filter(symbol=symbol).update(feed_position=position + 1)
    return fills
