"""Whether an account can fund a grid: one check for the wizard, the API and the engine's start.

The amounts come from `grid.funds_needed`; this module only reads the balances and words the
answer (`bots.shortfalls` formats the amounts, for the backtester too).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bots.shortfalls import amount, shortfall_parts
from bots.strategies import futures_grid, grid, registry
from exchanges.balances import AccountBalances, available_balances
from exchanges.base import Instrument
from exchanges.models import ExchangeAccount


@dataclass(frozen=True)
class FundsCheck:
    needed: dict[str, Decimal]
    balances: AccountBalances
    shortfalls: tuple[grid.Shortfall, ...]
    message: str  # what to tell the trader when the grid is not funded; "" otherwise

    @property
    def short(self) -> bool:
        return bool(self.shortfalls)


def check_funds(
    account: ExchangeAccount,
    config: Any,
    instrument: Instrument,
    price: Decimal,
    *,
    balances: AccountBalances | None = None,
    strategy: str = registry.DEFAULT,
) -> FundsCheck:
    """The funds the grid needs at `price` against what `account` holds free (read afresh unless
    `balances` are given). Unknown balances (a slow venue) give no shortfall: the engine checks
    again when the bot starts."""
    needed = registry.strategy_named(strategy).funds_needed(config, instrument, price)
    if balances is None:
        balances = available_balances(account)
    shortfalls = grid.funds_shortfall(needed, balances.free) if balances.known else ()
    message = shortfall_message(shortfalls, instrument, account.label, strategy=strategy)
    return FundsCheck(needed, balances, shortfalls, message)


def shortfall_message(
    shortfalls: Sequence[grid.Shortfall],
    instrument: Instrument,
    where: str = "",
    *,
    strategy: str = registry.DEFAULT,
) -> str:
    if not shortfalls:
        return ""
    account = f"“{where}”" if where else "the account"
    parts = shortfall_parts(shortfalls, instrument, account)
    if strategy == futures_grid.NAME:
        return (
            f"This futures grid needs {' and '.join(parts)} as margin. Lower the investment or add "
            "funds to the account."
        )
    if strategy != registry.DEFAULT:
        label = registry.strategy_named(strategy).label
        return (
            f"This {label} bot needs {' and '.join(parts)} for a whole deal. Lower the order sizes or "
            "add funds to the account."
        )
    return f"This grid needs {' and '.join(parts)}. Lower the investment or add funds to the account."


def amounts_text(
    amounts: dict[str, Decimal], instrument: Instrument, rounding: str, *, skip_zero: bool = False
) -> str:
    """The instrument's quote then base, e.g. "1,004.52 USDT · 0.000000 BTC"."""
    shown = [
        amount(amounts.get(asset, Decimal(0)), asset, instrument, rounding)
        for asset in (instrument.quote, instrument.base)
        if not (skip_zero and not amounts.get(asset))
    ]
    return " · ".join(shown)
