"""The paper venue's instruments: Bybit's real spot filters and default fees.

BTCUSDT is Bybit's documented instruments-info example (exchanges/tests/bybit_v5), including
its limit and market order maxima (maxLimitOrderQty 83, maxMarketOrderQty 41.5 BTC);
ETHUSDT follows Bybit's published spot filters for that pair.
"""

from __future__ import annotations

from decimal import Decimal

from exchanges.base import Instrument, InvalidOrder, InvalidOrderReason

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


def instrument_for(symbol: str) -> Instrument:
    try:
        return INSTRUMENTS[symbol]
    except KeyError:
        raise InvalidOrder(
            f"{symbol} is not traded here.", reason=InvalidOrderReason.UNKNOWN_SYMBOL
        ) from None
