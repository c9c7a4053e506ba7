"""An account's instrument filters are cached; a cached copy of an older shape is never served."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal

import pytest
from django.core.cache import cache

from accounts.tests.factories import make_user
from exchanges.base import Instrument
from exchanges.instruments import instrument_for
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper import market
from exchanges.paper.instruments import INSTRUMENTS
from exchanges.simulator.server import running_simulator
from exchanges.tests.factories import API_KEY, API_SECRET

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]


def test_an_instrument_cached_before_the_market_maximum_existed_is_fetched_again() -> None:
    market.set_price("BTCUSDT", Decimal("54000"))
    with running_simulator() as simulator:
        simulator.add_key(API_KEY, API_SECRET, balances={"USDT": Decimal("5000")})
        account = ExchangeAccount(
            owner=make_user(email="cache@example.com"),
            label="Simulator",
            exchange=ExchangeName.BYBIT,
            environment=Environment.CUSTOM,
            base_url=simulator.url,
        )
        account.set_credentials(API_KEY, API_SECRET)
        account.save()
        # What the previous release cached: an Instrument without the market-order maximum.
        stale = object.__new__(Instrument)
        older_fields = {k: v for k, v in asdict(INSTRUMENTS["BTCUSDT"]).items() if k != "max_market_quantity"}
        stale.__dict__.update(older_fields)
        cache.set(f"instrument:{account.pk}:BTCUSDT", stale, 3600)

        instrument = instrument_for(account, "BTCUSDT")
        assert instrument.max_market_quantity == Decimal("41.5")
        assert instrument_for(account, "BTCUSDT") == instrument, "the fresh copy is cached in turn"
