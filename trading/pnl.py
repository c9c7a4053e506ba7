"""A bot's PnL as pages and the API show it: the ledger valued at a mark price."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from exchanges.base import ExchangeError
from exchanges.models import ExchangeName
from trading.ledger import Ledger, LedgerSummary, running_time
from trading.models import EquitySnapshot

if TYPE_CHECKING:
    from bots.models import Bot


def mark_price(bot: Bot) -> Decimal | None:
    """The freshest price known without calling a live venue: the paper market's last price,
    else the bot's latest equity snapshot, else its start price."""
    if bot.exchange_account.exchange == ExchangeName.PAPER:
        from exchanges.paper import market

        try:
            return market.last_price(bot.symbol)
        except ExchangeError:
            pass
    latest = EquitySnapshot.objects.filter(bot=bot).order_by("-time").values_list("price", flat=True).first()
    return latest if latest is not None else bot.price_at_start


def bot_pnl(
    bot: Bot, mark: Decimal | None = None, *, now: datetime | None = None, books: Ledger | None = None
) -> LedgerSummary | None:
    """None until the bot has books (it has never started). `books` saves decoding the bot's
    ledger again when the caller already holds it."""
    books = books if books is not None else bot.books
    if books is None:
        return None
    mark = mark if mark is not None else mark_price(bot)
    if mark is None:
        return None
    now = now or timezone.now()
    end = bot.stopped_at if bot.stopped_at and bot.started_at and bot.stopped_at > bot.started_at else now
    return books.summary(mark, running_for=running_time(bot.started_at, end))


def mark_prices(bots: Iterable[Bot]) -> dict[int, Decimal | None]:
    """`mark_price` for many bots in at most two queries: each paper symbol's price is read once,
    and the latest snapshot of every other bot comes from one query."""
    from exchanges.paper.models import PaperMarket

    bots = list(bots)
    paper_bots = [bot for bot in bots if bot.exchange_account.exchange == ExchangeName.PAPER]
    symbols = {bot.symbol for bot in paper_bots}
    paper_prices: dict[str, Decimal] = (
        dict(PaperMarket.objects.filter(symbol__in=symbols).values_list("symbol", "last_price"))
        if symbols
        else {}
    )
    marks: dict[int, Decimal | None] = {
        bot.pk: paper_prices[bot.symbol] for bot in paper_bots if bot.symbol in paper_prices
    }
    unpriced = [bot.pk for bot in bots if bot.pk not in marks]
    latest: dict[int, Decimal | None] = (
        dict(
            # The bots' own model, so trading never imports bots.
            type(bots[0])
            ._default_manager.filter(pk__in=unpriced)
            .annotate(
                latest=Subquery(
                    EquitySnapshot.objects.filter(bot=OuterRef("pk")).order_by("-time").values("price")[:1]
                )
            )
            .values_list("pk", "latest")
        )
        if unpriced
        else {}
    )
    for bot in bots:
        if bot.pk not in marks:
            snapshot_price = latest.get(bot.pk)
            marks[bot.pk] = snapshot_price if snapshot_price is not None else bot.price_at_start
    return marks
