"""One account's USDT perpetuals, seen through the plain `Exchange` interface.

The engine speaks to a venue without knowing what it trades: for a futures bot it is handed this
view, which asks the venue about the linear contract (its filters, its orders, its fills) where a
spot bot's view asks about the spot pair. Everything a perpetual has beyond that (positions,
leverage, funding) is the venue's own, passed through.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from exchanges.base import (
    Balance,
    Candle,
    Exchange,
    Fill,
    FundingPayment,
    FundingRate,
    Instrument,
    InstrumentKind,
    KeyPermissions,
    OrderRequest,
    OrderState,
    Position,
    Ticker,
)
from exchanges.perpetuals.margin import RiskTier

LINEAR = InstrumentKind.LINEAR


class LinearMarket(Exchange):
    supports_perpetuals = True

    def __init__(self, venue: Exchange) -> None:
        self.venue = venue
        self.name = venue.name

    def instruments(self) -> list[Instrument]:
        raise self._not_supported("Listing perpetuals")

    def instrument(self, symbol: str) -> Instrument:
        return self.venue.perpetual_instrument(symbol)

    def ticker(self, symbol: str) -> Ticker:
        """The pair's ticker with the perpetual's mark as its last price: the price a futures
        bot lays out, exits and values its position at."""
        ticker = self.venue.ticker(symbol)
        return replace(ticker, last=self.venue.mark_price(symbol))

    def candles(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
        return self.venue.candles(symbol, interval, start, end)

    def balances(self) -> dict[str, Balance]:
        return self.venue.balances()

    def place_order(self, request: OrderRequest) -> OrderState:
        return self.venue.place_order(replace(request, kind=LINEAR))

    def cancel_order(self, symbol: str, *, client_order_id: str, kind: InstrumentKind = LINEAR) -> None:
        self.venue.cancel_order(symbol, client_order_id=client_order_id, kind=LINEAR)

    def cancel_all_orders(self, symbol: str, *, kind: InstrumentKind = LINEAR) -> list[str]:
        return self.venue.cancel_all_orders(symbol, kind=LINEAR)

    def open_orders(self, symbol: str | None = None, *, kind: InstrumentKind = LINEAR) -> list[OrderState]:
        return self.venue.open_orders(symbol, kind=LINEAR)

    def order(self, symbol: str, client_order_id: str, *, kind: InstrumentKind = LINEAR) -> OrderState:
        return self.venue.order(symbol, client_order_id, kind=LINEAR)

    def order_history(
        self, symbol: str, limit: int = 50, *, kind: InstrumentKind = LINEAR
    ) -> list[OrderState]:
        return self.venue.order_history(symbol, limit, kind=LINEAR)

    def fills_since(
        self,
        symbol: str,
        since: datetime | None,
        *,
        client_order_prefix: str | None = None,
        kind: InstrumentKind = LINEAR,
    ) -> list[Fill]:
        return self.venue.fills_since(symbol, since, client_order_prefix=client_order_prefix, kind=LINEAR)

    def check_api_key(self) -> KeyPermissions:
        return self.venue.check_api_key()

    def perpetual_instrument(self, symbol: str) -> Instrument:
        return self.venue.perpetual_instrument(symbol)

    def positions(self, symbol: str | None = None) -> list[Position]:
        return self.venue.positions(symbol)

    def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        self.venue.set_leverage(symbol, leverage)

    def set_one_way_mode(self, symbol: str) -> None:
        self.venue.set_one_way_mode(symbol)

    def mark_price(self, symbol: str) -> Decimal:
        return self.venue.mark_price(symbol)

    def funding_history(self, symbol: str, since: datetime | None = None) -> list[FundingRate]:
        return self.venue.funding_history(symbol, since)

    def funding_payments(self, symbol: str, since: datetime | None = None) -> list[FundingPayment]:
        return self.venue.funding_payments(symbol, since)

    def risk_tiers(self, symbol: str) -> tuple[RiskTier, ...]:
        return self.venue.risk_tiers(symbol)


def market_kind(exchange: Exchange) -> InstrumentKind:
    """What an order sent to `exchange` trades: a `LinearMarket`'s go to the perpetual."""
    return LINEAR if isinstance(exchange, LinearMarket) else InstrumentKind.SPOT
