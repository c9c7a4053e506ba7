"""What the engine does for a bot on a USDT perpetual beyond what a spot bot does.

Before the start: the grid is validated against the perpetual (its risk-limit tiers, the owner's
leverage cap), the symbol must hold no position of anything else's (one-way mode shares it), and
the venue is set to one-way mode at the bot's leverage. While it runs, each tick reads the
venue's position: the funding settled since is booked, a position the venue closed by itself is
a liquidation, and a mark within the trader's distance of the liquidation price stops the bot.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from bots.futures_previews import listed_perpetual
from bots.models import Bot
from bots.strategies import futures_grid
from bots.strategies.base import Strategy
from exchanges.base import Exchange, Instrument, LeverageRejected, Position, PositionModeLocked
from risk.actions import leverage_cap
from trading.numbers import plain
from trading.positions import PositionLedger


class Refused(Exception):
    """The venue cannot take this bot's position: the bot stops in error; the message says why."""


def validate_at_start(
    bot: Bot, strategy: Strategy[Any, Any], config: Any, instrument: Instrument, price: Decimal
) -> None:
    """The futures grid's validation at the start's price, under the owner's leverage cap today."""
    cap = leverage_cap(bot.owner)
    futures_grid.validate(
        config,
        listed_perpetual(bot.symbol, instrument),
        price,
        max_leverage=Decimal(cap.value),
        cap_owner=cap.whose,
        venue=bot.exchange_account.get_exchange_display(),
    )


def position_of(exchange: Exchange, symbol: str) -> Position | None:
    """The symbol's position (one in one-way mode), None when the venue lists none."""
    return next((p for p in exchange.positions(symbol) if p.symbol == symbol), None)


def prepare(bot: Bot, exchange: Exchange, leverage: Decimal, books: PositionLedger) -> None:
    """One-way mode at the bot's leverage, on a symbol with no position; the venue's funding so far
    is the books' baseline."""
    held = position_of(exchange, bot.symbol)
    if held is not None and not held.is_flat:
        raise Refused(
            f"The account already holds a {held.side} position of {plain(held.size)} on {bot.symbol}: "
            "a futures grid needs the symbol's position to itself. Close that position, or use "
            "another account."
        )
    venue = bot.exchange_account.get_exchange_display()
    try:
        exchange.set_one_way_mode(bot.symbol)
        exchange.set_leverage(bot.symbol, leverage)
    except (PositionModeLocked, LeverageRejected) as exc:
        raise Refused(f"{venue} refused the futures settings: {exc.message}") from exc
    if held is not None and held.funding is not None:
        books.book_funding(held.funding)


@dataclass(frozen=True)
class Reading:
    """What one look at the venue's position means for the bot."""

    position: Position | None
    books_changed: bool  # funding or the bankruptcy price moved: the books need saving
    guard_reached: Decimal | None  # the distance to liquidation, in %, when within the trader's


def read(position: Position | None, books: PositionLedger, stop_distance: Decimal | None) -> Reading:
    """Book into `books` what the position says (funding settled since, its bankruptcy price),
    and say whether the liquidation guard is reached."""
    changed = False
    if position is not None and position.funding is not None and position.funding != books.funding_seen:
        books.book_funding(position.funding)
        changed = True
    bankruptcy = position.bankruptcy_price if position is not None else None
    if bankruptcy is not None and bankruptcy != books.bankruptcy_seen:
        books.bankruptcy_seen = bankruptcy
        changed = True
    return Reading(position, changed, _guard(position, stop_distance))


def _guard(position: Position | None, stop_distance: Decimal | None) -> Decimal | None:
    if (
        stop_distance is None
        or position is None
        or position.is_flat
        or position.side is None
        or position.liquidation_price is None
    ):
        return None
    room = futures_grid.distance_to_liquidation(
        position.side, position.mark_price, position.liquidation_price
    )
    return room if room <= stop_distance else None


def liquidated(books: PositionLedger, position: Position | None) -> bool:
    """The books hold a position the venue no longer does: nothing of ours closed it."""
    return books.base != 0 and (position is None or position.is_flat)


def book_liquidation(bot: Bot, books: PositionLedger, price: Decimal) -> str:
    """Close the books' position at `price` (the venue's bankruptcy price); the trader's reason."""
    side, size = books.side or "position", abs(books.base)
    loss = books.liquidate(price)
    return (
        f"Liquidated: {bot.symbol}'s mark price reached the liquidation price, and the exchange closed "
        f"the {side} of {plain(size)} {books.base_asset} at {plain(price)}: its margin is lost "
        f"({plain(loss)} {books.quote_asset} booked as a loss) and the bot's orders were cancelled."
    )
