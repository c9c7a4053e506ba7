"""The strategy's preview for a config on an account: one function for the wizard and the API."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bots.funds import FundsCheck, check_funds
from bots.strategies import grid, registry
from exchanges.balances import AccountBalances
from exchanges.base import Instrument
from exchanges.instruments import instrument_for
from exchanges.models import ExchangeAccount
from exchanges.registry import exchange_for_account


@dataclass(frozen=True)
class PreviewResult:
    instrument: Instrument
    price: Decimal  # the price the grid was laid out at
    preview: Any  # the strategy's: a GridPreview, a DcaPreview
    funds: FundsCheck


def check_preview(
    account: ExchangeAccount,
    config: Any,
    reference_price: Decimal | None = None,
    *,
    balances: AccountBalances | None = None,
    strategy: str = registry.DEFAULT,
) -> PreviewResult:
    """Validate `config` at `reference_price` (default: the live price) and preview it, with the
    funds it needs against the account's `balances` (default: read now).

    Raises `grid.GridConfigError` with messages per field, or `ExchangeError` when the
    venue cannot answer (an unknown symbol, an outage)."""
    instrument = instrument_for(account, config.symbol)
    price = reference_price
    if price is None:
        price = exchange_for_account(account).ticker(config.symbol).last
    if price <= 0:
        raise grid.GridConfigError({"reference_price": ["The reference price must be above zero."]})
    runs = registry.strategy_named(strategy)
    runs.validate(config, instrument, price, account.get_exchange_display())
    return PreviewResult(
        instrument=instrument,
        price=price,
        preview=runs.preview(config, instrument, price),
        funds=check_funds(account, config, instrument, price, balances=balances, strategy=strategy),
    )
