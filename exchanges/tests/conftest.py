from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest

from exchanges.base import Exchange, Fill
from exchanges.paper import market
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.service import open_paper_account

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
