"""A futures grid's preview on an account: the perpetual as the account's venue lists it, the
price to lay the grid out at, the trader's leverage cap (`risk.actions.leverage_cap`), then the
strategy's validation and preview."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from bots.strategies import futures_grid
from bots.strategies.base import ConfigError
from exchanges.base import Exchange, Instrument, PositionSide, round_to_step
from exchanges.models import ExchangeAccount
from exchanges.paper import instruments as paper_instruments
from exchanges.perpetuals import margin
from exchanges.registry import exchange_for_account
from risk.actions import leverage_cap


@dataclass(frozen=True)
class FuturesPreviewResult:
    perpetual: futures_grid.Perpetual
    price: Decimal  # the price the grid was laid out at
    preview: futures_grid.FuturesGridPreview


def perpetual_for(venue: Exchange, symbol: str) -> futures_grid.Perpetual:
    """`symbol`'s perpetual: the venue's own filters and risk-limit tiers where it trades
    perpetuals, else the paper venue's tables (Bybit's documented filters, the tiers the
    repository ships). The liquidation estimate needs the tiers."""
    if venue.supports_perpetuals:
        return listed_perpetual(symbol, venue.perpetual_instrument(symbol), venue.risk_tiers(symbol))
    return listed_perpetual(symbol, paper_instruments.linear_instrument_for(symbol))


def listed_perpetual(
    symbol: str, instrument: Instrument, tiers: tuple[margin.RiskTier, ...] | None = None
) -> futures_grid.Perpetual:
    """The perpetual of `instrument` with its risk-limit tiers (the venue's, else those the
    repository ships) and Bybit's leverage filter; a `ConfigError` on `symbol` when none are known."""
    tiers = tiers or margin.RISK_TIERS.get(symbol)
    if not tiers:
        known = ", ".join(sorted(margin.RISK_TIERS))
        raise ConfigError(
            {
                "symbol": [
                    f"Gridwise cannot yet estimate the liquidation price of {symbol}: "
                    f"futures grids preview on {known}."
                ]
            }
        )
    # Bybit's leverage filter; the instrument itself does not carry it.
    most = paper_instruments.MAX_LEVERAGE.get(symbol, tiers[0].max_leverage)
    return futures_grid.Perpetual(instrument=instrument, tiers=tiers, max_leverage=most)


def check_futures_preview(
    account: ExchangeAccount,
    config: futures_grid.FuturesGridConfig,
    reference_price: Decimal | None = None,
) -> FuturesPreviewResult:
    """Validate `config` at `reference_price` (default: the perpetual's mark price on the account's
    venue) and preview it. Raises `ConfigError` per field, or `ExchangeError` when the venue
    cannot answer (an unknown symbol, an outage)."""
    venue = exchange_for_account(account)
    perpetual = perpetual_for(venue, config.symbol)
    price = reference_price
    if price is None:
        if not venue.supports_perpetuals:
            raise ConfigError(
                {
                    "reference_price": [
                        f"{account.get_exchange_display()} gives no perpetual price here: "
                        "send reference_price to lay the grid out at."
                    ]
                }
            )
        price = venue.mark_price(config.symbol)
    if price <= 0:
        raise ConfigError({"reference_price": ["The reference price must be above zero."]})
    cap = leverage_cap(account.owner)
    futures_grid.FUTURES_GRID.validate(
        config,
        perpetual,
        price,
        account.get_exchange_display(),
        max_leverage=Decimal(cap.value),
        cap_owner=cap.whose,
    )
    return FuturesPreviewResult(
        perpetual=perpetual, price=price, preview=futures_grid.FUTURES_GRID.preview(config, perpetual, price)
    )


def liquidation_shown(estimate: futures_grid.Liquidation, tick: Decimal) -> Decimal:
    """A liquidation price on the tick grid, rounded towards the entry (the side it triggers
    first), as the preview's warnings say it."""
    rounding = ROUND_CEILING if estimate.side is PositionSide.LONG else ROUND_FLOOR
    return round_to_step(estimate.price, tick, rounding)
