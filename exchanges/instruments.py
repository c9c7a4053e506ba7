"""Market data pages read often, cached: an account's instrument filters and recent candles."""

from __future__ import annotations

import zlib
from dataclasses import fields
from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone

from exchanges.base import Candle, Instrument
from exchanges.models import ExchangeAccount, ExchangeName
from exchanges.paper import instruments as paper_instruments
from exchanges.registry import exchange_for_account

# Filters and fee rates change rarely; an hour keeps pages off the venue's API.
INSTRUMENT_CACHE_SECONDS = 3600
# Part of the cache key: an Instrument cached before a deploy that added a field would unpickle
# without it, so a new shape starts a new key.
INSTRUMENT_SHAPE = format(zlib.crc32(",".join(f.name for f in fields(Instrument)).encode()), "08x")


def instrument_for(account: ExchangeAccount, symbol: str, *, fail_fast: bool = False) -> Instrument:
    """`symbol`'s filters on `account`'s venue. Raises `ExchangeError` (e.g. `UnknownSymbol`).

    `fail_fast`: one short try (a page that can do without it, with the venue perhaps down)."""
    if account.exchange == ExchangeName.PAPER:
        return paper_instruments.instrument_for(symbol)
    key = f"instrument:{INSTRUMENT_SHAPE}:{account.pk}:{symbol}"
    found = cache.get(key)
    if isinstance(found, Instrument):
        return found
    instrument = exchange_for_account(account, fail_fast=fail_fast).instrument(symbol)
    cache.set(key, instrument, INSTRUMENT_CACHE_SECONDS)
    return instrument


def recent_candles(
    account: ExchangeAccount, symbol: str, interval: str, span: timedelta, *, cache_seconds: int
) -> list[Candle]:
    """Candles of `interval` over the last `span`, cached briefly per account so pages that redraw
    often (a preview per keystroke, a chart per reload) do not cost a venue call each time.
    Raises `ExchangeError`."""
    key = f"candles:{account.pk}:{symbol}:{interval}:{int(span.total_seconds())}"
    found = cache.get(key)
    if isinstance(found, list):
        return found
    end = timezone.now()
    candles = exchange_for_account(account).candles(symbol, interval, end - span, end)
    cache.set(key, candles, cache_seconds)
    return candles
