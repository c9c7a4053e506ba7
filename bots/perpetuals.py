"""What the engine does for a bot on a USDT perpetual beyond what a spot bot does.

Before the start: the grid is validated against the perpetual (its risk-limit tiers, the owner's
leverage cap), the symbol must hold no position of anything else's (one-way mode shares it), and
the venue is set to one-way mode at the bot's leverage. While it runs, each tick reads the
venue's position: the funding settled since is booked, a position the venue closed by itself is
a liquidation, and a mark within the trader's distance of the liquidation price stops the bot.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bots.futures_previews import perpetual_for
from bots.models import Bot
from bots.strategies import futures_grid
from exchanges.base import (
    Exchange,
    FundingPayment,
    LeverageRejected,
    Position,
    PositionModeLocked,
)
from exchanges.perpetuals import margin
from risk.actions import leverage_cap
from trading.numbers import plain
from trading.positions import PositionLedger

FUNDING_SETTLES = timedelta(minutes=15)


class Refused(Exception):
    """The venue cannot take this bot's position: the bot stops in error; the message says why."""


def validate_at_start(bot: Bot, exchange: Exchange, config: Any, price: Decimal) -> None:
    """The futures grid's validation at the start's price, against the venue's perpetual (its
    filters and risk-limit tiers), under the owner's leverage cap today."""
    cap = leverage_cap(bot.owner)
    futures_grid.validate(
        config,
        perpetual_for(exchange, bot.symbol),
        price,
        max_leverage=Decimal(cap.value),
        cap_owner=cap.whose,
        venue=bot.exchange_account.get_exchange_display(),
    )


def position_of(exchange: Exchange, symbol: str) -> Position | None:
    """The symbol's position (one in one-way mode), None when the venue lists none."""
    return next((p for p in exchange.positions(symbol) if p.symbol == symbol), None)


def prepare(bot: Bot, exchange: Exchange, leverage: Decimal, books: PositionLedger, now: datetime) -> None:
    """One-way mode at the bot's leverage, on a symbol with no position; the books take funding
    from `now` on."""
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
    # Funding settled before the run is not the bot's.
    books.funding_cursor = books.funding_checked_at = now


def note_bankruptcy(position: Position | None, books: PositionLedger) -> bool:
    """Keep the position's bankruptcy price in the books (where a liquidation would settle it);
    whether it changed."""
    bankruptcy = position.bankruptcy_price if position is not None else None
    if bankruptcy is None or bankruptcy == books.bankruptcy_seen:
        return False
    books.bankruptcy_seen = bankruptcy
    return True


def funding_due(books: PositionLedger, now: datetime) -> bool:
    """Whether to ask the venue for funding: until FUNDING_SETTLES after each funding time (a
    venue settles a little after the hour), then not until the next one."""
    checked = books.funding_checked_at
    return checked is None or checked < margin.last_funding_time(now) + FUNDING_SETTLES


def book_funding(
    books: PositionLedger, payments: list[FundingPayment], now: datetime
) -> list[FundingPayment]:
    """Book the payments not booked yet; returns those it booked."""
    books.funding_checked_at = now
    return [p for p in payments if books.book_funding(p.payment_id, p.time, p.amount)]


def liquidation_guard(position: Position | None, stop_distance: Decimal | None) -> Decimal | None:
    """The distance to liquidation, in %, once it is within the trader's `stop_distance`."""
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
