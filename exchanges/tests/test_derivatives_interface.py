"""The derivatives half of the exchange interface: spot venues refuse it clearly, orders stay spot."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from exchanges.base import (
    Balance,
    Candle,
    Exchange,
    Fill,
    Instrument,
    InstrumentKind,
    KeyPermissions,
    NotSupported,
    OrderRequest,
    OrderState,
    OrderType,
    Position,
    PositionSide,
    Side,
    Ticker,
)

SPOT = InstrumentKind.SPOT


class SpotOnly(Exchange):
    """The smallest venue: every abstract method, no derivatives."""

    name = "spot-only"

    def instruments(self) -> list[Instrument]:
        return []

    def instrument(self, symbol: str) -> Instrument:
        raise NotImplementedError

    def ticker(self, symbol: str) -> Ticker:
        raise NotImplementedError

    def candles(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
        return []

    def balances(self) -> dict[str, Balance]:
        return {}

    def place_order(self, request: OrderRequest) -> OrderState:
        raise NotImplementedError

    def cancel_order(self, symbol: str, *, client_order_id: str, kind: InstrumentKind = SPOT) -> None:
        raise NotImplementedError

    def cancel_all_orders(self, symbol: str, *, kind: InstrumentKind = SPOT) -> list[str]:
        return []

    def open_orders(self, symbol: str | None = None, *, kind: InstrumentKind = SPOT) -> list[OrderState]:
        return []

    def order(self, symbol: str, client_order_id: str, *, kind: InstrumentKind = SPOT) -> OrderState:
        raise NotImplementedError

    def order_history(self, symbol: str, limit: int = 50, *, kind: InstrumentKind = SPOT) -> list[OrderState]:
        return []

    def fills_since(self, symbol, since, *, client_order_prefix=None, kind=SPOT) -> list[Fill]:
        return []

    def check_api_key(self) -> KeyPermissions:
        raise NotImplementedError


@pytest.mark.parametrize(
    "call",
    [
        lambda venue: venue.positions("BTCUSDT"),
        lambda venue: venue.set_leverage("BTCUSDT", Decimal("5")),
        lambda venue: venue.set_one_way_mode("BTCUSDT"),
        lambda venue: venue.mark_price("BTCUSDT"),
        lambda venue: venue.funding_history("BTCUSDT"),
        lambda venue: venue.perpetual_instrument("BTCUSDT"),
    ],
)
def test_a_spot_venue_refuses_derivatives_in_plain_words(call):
    venue = SpotOnly()
    assert venue.supports_perpetuals is False
    with pytest.raises(NotSupported, match="not supported on this venue \\(spot-only\\)"):
        call(venue)


def test_orders_stay_spot_unless_told_and_spot_cannot_be_reduce_only():
    order = OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, Decimal("1"), "c1", price=Decimal("10"))
    assert order.kind is InstrumentKind.SPOT
    assert order.reduce_only is False
    with pytest.raises(ValueError, match="spot order cannot be reduce-only"):
        OrderRequest("BTCUSDT", Side.SELL, OrderType.MARKET, Decimal("1"), "c2", reduce_only=True)
    closing = OrderRequest(
        "BTCUSDT",
        Side.SELL,
        OrderType.MARKET,
        Decimal("1"),
        "c3",
        kind=InstrumentKind.LINEAR,
        reduce_only=True,
    )
    assert closing.reduce_only


def test_position_signed_size():
    common: dict[str, Any] = {
        "symbol": "BTCUSDT",
        "entry_price": Decimal("100"),
        "mark_price": Decimal("100"),
        "leverage": Decimal("5"),
        "liquidation_price": None,
        "bankruptcy_price": None,
        "position_margin": Decimal("0"),
        "unrealised_pnl": Decimal("0"),
        "realised_pnl": Decimal("0"),
        "funding": Decimal("0"),
    }
    assert Position(side=PositionSide.SHORT, size=Decimal("2"), **common).signed_size == Decimal("-2")
    assert Position(side=PositionSide.LONG, size=Decimal("2"), **common).signed_size == Decimal("2")
    assert Position(side=None, size=Decimal("0"), **common).is_flat
