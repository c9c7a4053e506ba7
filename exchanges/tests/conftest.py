from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import pytest

from exchanges.base import Exchange, Fill
from exchanges.bybit.adapter import BybitExchange
from exchanges.paper import market
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.models import PaperAccount
from exchanges.paper.service import open_paper_account
from exchanges.simulator.server import BybitSimulator, running_simulator

START_PRICE = Decimal("20000")


@dataclass
class Venue:
    """An exchange under test plus the lever that moves its market."""

    exchange: Exchange
    move_price: Callable[..., list[Fill]]


def paper_venue() -> Venue:
    market.set_price("BTCUSDT", START_PRICE)
    market.set_price("ETHUSDT", Decimal("1500"))
    account = open_paper_account("contract", {"USDT": Decimal("10000"), "BTC": Decimal("0.5")})
    return Venue(PaperExchange(account), market.set_price)


VENUES: dict[str, Callable[[], Venue]] = {"paper": paper_venue}


@pytest.fixture(params=sorted(VENUES))
def venue(request: pytest.FixtureRequest, transactional_db: None) -> Venue:
    return VENUES[request.param]()


# The Bybit simulator, a funded paper account behind a key, and the adapter on it.

KEY, SECRET = "trader-key", "trader-secret"
PRICE = Decimal("30000")


@pytest.fixture
def simulator(transactional_db: None) -> Iterator[BybitSimulator]:
    market.set_price("BTCUSDT", PRICE)
    market.set_price("ETHUSDT", Decimal("2000"))
    with running_simulator(allow_faults=True) as running:
        running.add_key(KEY, SECRET, balances={"USDT": Decimal("10000"), "BTC": Decimal("1")})
        yield running


def connect(simulator: BybitSimulator, key: str = KEY, secret: str = SECRET, **options: Any) -> BybitExchange:
    settings = {"timeout": 2.0, "read_retries": 2} | options
    exchange = BybitExchange(key, secret, environment="custom", base_url=simulator.url, **settings)
    exchange.backoff = 0.02  # keeps retries quick in tests
    return exchange


@pytest.fixture
def bybit(simulator: BybitSimulator) -> BybitExchange:
    return connect(simulator)


@pytest.fixture
def paper(simulator: BybitSimulator) -> PaperExchange:
    """The same account, asked directly: what the adapter must agree with."""
    return PaperExchange(PaperAccount.objects.get(api_key=KEY))
