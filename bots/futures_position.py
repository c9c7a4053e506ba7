"""A futures grid bot's live position: what the venue holds on the bot's perpetual, how far its
mark is from liquidation, and the funding the bot's books counted. The API and the bot page read
it through the same two calls (`check_futures`, then `live_position`)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal
from typing import TYPE_CHECKING, Literal

from bots.perpetuals import position_of
from bots.strategies import futures_grid
from exchanges.base import Position, PositionSide
from exchanges.registry import exchange_for_account
from trading.ledger import LedgerSummary
from trading.pnl import bot_pnl

if TYPE_CHECKING:
    from bots.models import Bot

COMPUTE: Literal["compute"] = "compute"

# Without a stop distance in its settings, a position this close to liquidation (in percent of
# the mark) is still shown as in danger: the preview warns at the same distance.
DEFAULT_DANGER_PERCENT = futures_grid.LIQUIDATION_WARNING_DISTANCE * 100
DISTANCE_STEP = Decimal("0.01")


class NotFutures(Exception):
    """The bot trades spot: it holds no position."""


@dataclass(frozen=True)
class LivePosition:
    symbol: str
    mode: futures_grid.Mode
    side: PositionSide | None  # None: flat
    size: Decimal
    entry_price: Decimal | None  # None while flat, as the liquidation price and the distance
    mark_price: Decimal
    leverage: Decimal
    liquidation_price: Decimal | None
    # Percent of the mark, cut towards liquidation so it never reads safer than it is.
    distance_to_liquidation_percent: Decimal | None
    position_margin: Decimal
    unrealised_pnl: Decimal
    funding: Decimal | None  # net received (negative: paid); None until the bot has books
    liquidation_stop_distance: Decimal | None

    @property
    def funding_paid(self) -> Decimal | None:
        return -self.funding if self.funding is not None else None

    @property
    def danger_percent(self) -> Decimal:
        return self.liquidation_stop_distance or DEFAULT_DANGER_PERCENT

    @property
    def near_liquidation(self) -> bool:
        distance = self.distance_to_liquidation_percent
        return distance is not None and distance <= self.danger_percent


def _flat(symbol: str, mark: Decimal, leverage: Decimal) -> Position:
    zero = Decimal(0)
    return Position(symbol, None, zero, zero, mark, leverage, None, None, zero, zero, zero, None)


def check_futures(bot: Bot) -> None:
    if bot.strategy != futures_grid.NAME:
        raise NotFutures(f"“{bot.name}” is a {bot.runs.label} bot: only futures grid bots hold a position.")


def live_position(
    bot: Bot, *, fail_fast: bool = False, summary: LedgerSummary | Literal["compute"] | None = COMPUTE
) -> LivePosition:
    """The venue's answer now. Raises `ExchangeError` when it cannot give one; `fail_fast`
    tries once, briefly (a page polling it must not hang on a venue that is down). `summary`:
    the bot's PnL a page already shows (None: no books yet), so its funding is the same figure."""
    config: futures_grid.FuturesGridConfig = bot.strategy_config
    venue = exchange_for_account(bot.exchange_account, fail_fast=fail_fast)
    position = position_of(venue, bot.symbol)
    if position is None:  # a venue may list nothing for a symbol never traded
        position = _flat(bot.symbol, venue.mark_price(bot.symbol), config.leverage)
    side = position.side if position.size else None
    liquidation = position.liquidation_price if side else None
    distance = (
        futures_grid.distance_to_liquidation(side, position.mark_price, liquidation).quantize(
            DISTANCE_STEP, rounding=ROUND_FLOOR
        )
        if side and liquidation is not None and position.mark_price
        else None
    )
    if summary == COMPUTE:
        summary = bot_pnl(bot, position.mark_price)
    return LivePosition(
        symbol=bot.symbol,
        mode=config.mode,
        side=side,
        size=position.size,
        entry_price=position.entry_price if side else None,
        mark_price=position.mark_price,
        leverage=position.leverage,
        liquidation_price=liquidation,
        distance_to_liquidation_percent=distance,
        position_margin=position.position_margin,
        unrealised_pnl=position.unrealised_pnl,
        funding=summary.funding if summary is not None else None,
        liquidation_stop_distance=config.liquidation_stop_distance,
    )
