"""An account's instrument filters, cached: pages format every number with them."""

from __future__ import annotations

from django.core.cache import cache

from exchanges.base import Instrument
from exchanges.models import ExchangeAccount, ExchangeName
from exchanges.paper import instruments as paper_instruments
from exchanges.registry import exchange_for_account

# Filters and fee rates change rarely; an hour keeps pages off the venue's API.
INSTRUMENT_CACHE_SECONDS = 3600


def instrument_for(account: ExchangeAccount, symbol: str) -> Instrument:
    """`symbol`'s filters on `account`'s venue. Raises `ExchangeError` (e.g. `UnknownSymbol`)."""
    if account.exchange == ExchangeName.PAPER:
        return paper_instruments.instrument_for(symbol)
    key = f"instrument:{account.pk}:{symbol}"
    found = cache.get(key)
    if isinstance(found, Instrument):
        return found
    instrument = exchange_for_account(account).instrument(symbol)
    cache.set(key, instrument, INSTRUMENT_CACHE_SECONDS)
    return instrument
