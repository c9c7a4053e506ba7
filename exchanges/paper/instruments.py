"""The paper venue's instruments: Bybit's real spot and USDT-perpetual filters and default fees.

BTCUSDT is Bybit's documented instruments-info example (exchanges/tests/bybit_v5), including
its limit and market order maxima (maxLimitOrderQty 83, maxMarketOrderQty 41.5 BTC);
ETHUSDT follows Bybit's published spot filters for that pair.
"""

from __future__ import annotations

from decimal import Decimal

from exchanges.base import Instrument, InstrumentKind, InvalidOrder, InvalidOrderReason

# Bybit's non-VIP spot rate for both makers and takers.
SPOT_FEE = Decimal("0.001")

INSTRUMENTS: dict[str, Instrument] = {
    "BTCUSDT": Instrument(
        symbol="BTCUSDT",
        base="BTC",
        quote="USDT",
        tick_size=Decimal("0.1"),
        quantity_step=Decimal("0.000001"),
        min_quantity=Decimal("0.000011"),
        min_amount=Decimal("5"),
        max_quantity=Decimal("83"),
        max_amount=Decimal("8000000"),
        max_market_quantity=Decimal("41.5"),
        maker_fee=SPOT_FEE,
        taker_fee=SPOT_FEE,
    ),
    "ETHUSDT": Instrument(
        symbol="ETHUSDT",
        base="ETH",
        quote="USDT",
        tick_size=Decimal("0.01"),
        quantity_step=Decimal("0.00001"),
        min_quantity=Decimal("0.00062"),
        min_amount=Decimal("5"),
        max_quantity=Decimal("1878.23408"),
        max_amount=Decimal("8000000"),
        # Not in Bybit's example; half the limit maximum, the ratio Bybit publishes for BTCUSDT.
        max_market_quantity=Decimal("939.11704"),
        maker_fee=SPOT_FEE,
        taker_fee=SPOT_FEE,
    ),
}

DEFAULT_BALANCES: dict[str, Decimal] = {"USDT": Decimal("10000")}

# USDT perpetuals. BTCUSDT is Bybit's documented linear instruments-info example (tick 0.10, lot 0.001,
# limit orders up to 1,190 and market orders up to 500 BTC, 5 USDT minimum value, leverage 1-100 in steps of
# 0.01); the fees are Bybit's non-VIP derivatives rates (maker 0.02%, taker 0.055%). The paper venue lists
# only the perpetuals whose risk-limit tiers the repository ships (exchanges.perpetuals.margin.RISK_TIERS).
LINEAR_MAKER_FEE = Decimal("0.0002")
LINEAR_TAKER_FEE = Decimal("0.00055")
LEVERAGE_STEP = Decimal("0.01")
MIN_LEVERAGE = Decimal("1")

LINEAR_INSTRUMENTS: dict[str, Instrument] = {
    "BTCUSDT": Instrument(
        symbol="BTCUSDT",
        base="BTC",
        quote="USDT",
        tick_size=Decimal("0.1"),
        quantity_step=Decimal("0.001"),
        min_quantity=Decimal("0.001"),
        min_amount=Decimal("5"),
        max_quantity=Decimal("1190"),
        max_amount=Decimal("2600000"),  # the highest risk limit shipped for BTCUSDT
        max_market_quantity=Decimal("500"),
        maker_fee=LINEAR_MAKER_FEE,
        taker_fee=LINEAR_TAKER_FEE,
    ),
}
MAX_LEVERAGE: dict[str, Decimal] = {"BTCUSDT": Decimal("100")}


def instrument_for(symbol: str) -> Instrument:
    try:
        return INSTRUMENTS[symbol]
    except KeyError:
        raise InvalidOrder(
            f"{symbol} is not traded here.", reason=InvalidOrderReason.UNKNOWN_SYMBOL
        ) from None


def linear_instrument_for(symbol: str) -> Instrument:
    try:
        return LINEAR_INSTRUMENTS[symbol]
    except KeyError:
        raise InvalidOrder(
            f"There is no {symbol} perpetual here.", reason=InvalidOrderReason.UNKNOWN_SYMBOL
        ) from None


def instrument_of(category: str, symbol: str) -> Instrument:
    """The instrument an order of `category` ("spot" or "linear") trades."""
    return linear_instrument_for(symbol) if category == InstrumentKind.LINEAR else instrument_for(symbol)
