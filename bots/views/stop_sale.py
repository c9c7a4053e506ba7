"""Stopping with "Sell the base": a market sell of everything the bot holds is asked for
once more, with what it sells and roughly for how much, before the stop goes out."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bots.engine import bot_market, exit_sale, trades_perpetual
from bots.models import Bot
from bots.views.wizard import fee_percent
from exchanges.base import ExchangeError, Instrument
from exchanges.instruments import instrument_for
from trading.pnl import mark_price
from trading.positions import PositionLedger

TEMPLATE = "bots/stop_sale.html"
# The explicit field a confirmation posts; a stop asking to sell without it only asks again.
CONFIRM_FIELD = "confirm"
CONFIRM_VALUE = "sell-base"


@dataclass(frozen=True)
class BaseSale:
    """What stopping with a sale would sell now, as the engine works it out: everything the
    bot's books hold, rounded down to the lot step, if that meets the venue's minimum, in as
    many market orders as the venue's largest one needs (`engine.exit_sale`)."""

    base_asset: str
    quote_asset: str
    held: Decimal
    quantity: Decimal
    price: Decimal | None
    proceeds: Decimal | None  # before the fee and slippage
    minimum: Decimal | None  # the smallest order the venue takes at `price`
    taker_fee: Decimal | None
    price_step: Decimal
    quantity_step: Decimal
    orders: int = 1  # market orders the sale takes
    largest_order: Decimal | None = None  # the most one market order may sell
    # A futures bot's stop closes its position, reduce-only (a short is bought back): "long",
    # "short", or "" for a spot bot's sale of its base.
    position_side: str = ""

    @property
    def nothing_held(self) -> bool:
        return self.held <= 0

    @property
    def too_small(self) -> bool:
        return not self.nothing_held and self.minimum is not None and self.quantity < self.minimum


def sale_of(bot: Bot) -> BaseSale:
    books = bot.books
    instrument = _instrument(bot)
    price = mark_price(bot)
    position = books if isinstance(books, PositionLedger) else None
    held = books.base if books is not None else Decimal(0)
    if position is not None:
        held = abs(held)  # a short is bought back: its size is what the close trades
    quantity = instrument.round_quantity(held) if instrument is not None else held
    orders, largest_order = 1, None
    if instrument is not None and price and held > 0:
        planned = exit_sale(held, instrument, price)
        if planned.parts:
            quantity, orders = sum(planned.parts, Decimal(0)), len(planned.parts)
            largest_order = planned.largest
    return BaseSale(
        base_asset=books.base_asset if books else (instrument.base if instrument else bot.symbol),
        quote_asset=books.quote_asset if books else (instrument.quote if instrument else ""),
        held=held,
        quantity=quantity,
        price=price,
        proceeds=quantity * price if price is not None else None,
        minimum=instrument.min_quantity_at(price) if instrument is not None and price else None,
        taker_fee=instrument.taker_fee if instrument is not None else None,
        price_step=instrument.tick_size if instrument is not None else Decimal("0.01"),
        quantity_step=instrument.quantity_step if instrument is not None else Decimal("0.00000001"),
        orders=orders,
        largest_order=largest_order,
        position_side=(position.side or "") if position is not None else "",
    )


def _instrument(bot: Bot) -> Instrument | None:
    try:
        if trades_perpetual(bot):
            return bot_market(bot).instrument(bot.symbol)
        return instrument_for(bot.exchange_account, bot.symbol)
    except ExchangeError:
        return None  # the page still says what is held; the venue's filters apply at the sale


def confirmed(request: HttpRequest) -> bool:
    return request.POST.get(CONFIRM_FIELD) == CONFIRM_VALUE


def confirmation(request: HttpRequest, bot: Bot) -> HttpResponse:
    """The page asking to confirm the sale; nothing has changed yet."""
    sale = sale_of(bot)
    context = {
        "bot": bot,
        "sale": sale,
        "fee_percent": fee_percent(sale.taker_fee) if sale.taker_fee is not None else None,
        "confirm_field": CONFIRM_FIELD,
        "confirm_value": CONFIRM_VALUE,
    }
    return render(request, TEMPLATE, context)
