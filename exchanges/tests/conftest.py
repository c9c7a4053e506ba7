"""A Bybit simulator on a free port, a funded paper account behind a key, and the adapter on it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from exchanges.bybit.adapter import BybitExchange
from exchanges.simulator.server import BybitSimulator, running_simulator

KEY, SECRET = "trader-key", "trader-secret"
PRICE = Decimal("30000")


@pytest.fixture
def simulator(transactional_db: None) -> Iterator[BybitSimulator]:
    from exchanges.paper import market

    market.set_price("BTCUSDT", PRICE)
    market.set_price("ETHUSDT", Decimal("2000"))
    with running_simulator(allow_faults=True) as running:
        running.add_key(KEY, SECRET, balances={"USDT": Decimal("10000"), "BTC": Decimal("1")})
        yield running


def connect(
    simulator: BybitSimulator, key: str = KEY, secret: str = SECRET, **options: object
) -> BybitExchange:
    options = {"timeout": 2.0, "read_retries": 2} | options
    exchange = BybitExchange(key, secret, environment="custom", base_url=simulator.url, **options)  # type: ignore[arg-type]
    exchange.backoff = 0.02  # keeps retries quick in tests
    return exchange


@pytest.fixture
def bybit(simulator: BybitSimulator) -> BybitExchange:
    return connect(simulator)


@pytest.fixture
def paper(simulator: BybitSimulator):
    """The same account, asked directly: what the adapter must agree with."""
    from exchanges.paper.exchange import PaperExchange
    from exchanges.paper.models import PaperAccount

    return PaperExchange(PaperAccount.objects.get(api_key=KEY))
