"""A shortfall of funds in a trader's words: pure, so the engine, the pages and the backtester
say it the same way."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from bots.strategies.base import Shortfall
from exchanges.base import Instrument
from trading.numbers import QUOTE_STEP, fixed


def order_shortfall_message(shortfalls: Sequence[Shortfall], instrument: Instrument) -> str:
    """Why one order of a running bot was not sent (the engine's check before it goes out)."""
    if not shortfalls:
        return ""
    return f"It needs {' and '.join(shortfall_parts(shortfalls, instrument, 'the account'))}."


def shortfall_parts(shortfalls: Sequence[Shortfall], instrument: Instrument, account: str) -> list[str]:
    # Rounded against the trader: what is needed and missing up, what is free down.
    return [
        f"{amount(s.needed, s.asset, instrument, ROUND_UP)} free; {account} has "
        f"{amount(s.available, s.asset, instrument, ROUND_DOWN)} available "
        f"({amount(s.missing, s.asset, instrument, ROUND_UP)} short)"
        for s in shortfalls
    ]


def amount(value: Decimal, asset: str, instrument: Instrument, rounding: str) -> str:
    """An amount of `asset` at the precision the pages show it: cents of quote, lot steps of base."""
    step = instrument.quantity_step if asset == instrument.base else QUOTE_STEP
    return f"{fixed(value, step, rounding=rounding)} {asset}"
