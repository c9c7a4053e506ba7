"""A bot's PnL as pages and the API show it: the ledger valued at a mark price."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Protocol

from django.db.models import OuterRef, Subquery
from django.utils import timezone

from exchanges.base import ExchangeError
from exchanges.models import ExchangeName
from trading.ledger import Ledger, LedgerSummary, running_time
from trading.models import EquitySnapshot

if TYPE_CHECKING:
    from bots.models import Bot


class Priced(Protocol):
    """What `mark_prices` reads of a bot: a model instance needs a join for its venue, so pages
    listing many bots hand it plain rows instead."""

    @property
    def pk(self) -> int: ...
    @property
    def symbol(self) -> str: ...
    @property
    def exchange(self) -> str: ...  # the venue of the bot's exchange account
    @property
    def price_at_start(self) -> Decimal | None: ...


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
    return run_pnl(books, mark, started_at=bot.started_at, stopped_at=bot.stopped_at, now=now)


def run_pnl(
    books: Ledger,
    mark: Decimal,
    *,
    started_at: datetime | None,
    stopped_at: datetime | None,
    now: datetime | None = None,
) -> LedgerSummary:
    """`bot_pnl` from the parts of a bot it reads, for callers holding plain rows: a stopped
    run's APR counts up to its stop, a live one's up to `now`."""
    now = now or timezone.now()
    end = stopped_at if stopped_at and started_at and stopped_at > started_at else now
    return books.summary(mark, running_for=running_time(started_at, end))


def mark_prices(bots: Iterable[Priced]) -> dict[int, Decimal | None]:
    """`mark_price` for many bots in at most two queries: each paper symbol's price is read once,
    and the latest snapshot of every other bot comes from one query."""
    from exchanges.paper.models import PaperMarket

    bots = list(bots)
    paper_bots = [bot for bot in bots if bot.exchange == ExchangeName.PAPER]
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
            # The bots' own model, reached through the snapshot's key so that trading never
            # imports bots.
            EquitySnapshot._meta.get_field("bot")
            .related_model._default_manager.filter(pk__in=unpriced)
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


def today_pnl(
    summary: LedgerSummary, *, midnight_equity: Decimal | None, ended_before_midnight: bool = False
) -> Decimal:
    """The change in total PnL since local midnight: the total now less the total then.

    The total then is the run's equity in its last snapshot before midnight less its
    investment (`midnight_equity`, None when the run took none: it started since, at zero).
    A run that ended before midnight has traded nothing today."""
    if ended_before_midnight:
        return Decimal(0)
    total_at_midnight = midnight_equity - summary.investment if midnight_equity is not None else Decimal(0)
    return summary.total_pnl - total_at_midnight
