"""The trader's figures as the dashboard shows them: each bot's PnL (total and since local
midnight), the totals per quote asset and the newest fills. Read by the dashboard, the risk
rules and the daily summary, so that all three state the same numbers."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Case, Count, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.fields.json import KT
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from accounts.models import User
from bots import actions, codec
from bots.models import Bot, BotStatus
from bots.rows import CompiledRows
from trading.history import page_of
from trading.ledger import Ledger, LedgerSummary
from trading.models import LIVE_STATUSES, EquitySnapshot, Fill, Order
from trading.pnl import mark_prices, run_pnl, today_pnl
from trading.templatetags.money import plain, pnl

RECENT_FILLS = 10
# Bots whose funds are still in play: their equity and today's PnL count in the totals.
IDLE_STATUSES = (BotStatus.DRAFT, BotStatus.STOPPED)
RUNNING_FIRST = Case(
    When(status=BotStatus.RUNNING, then=Value(0)),
    When(status__in=(BotStatus.STARTING, BotStatus.STOPPING, BotStatus.ERROR), then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)
STATUS_LABELS = dict(BotStatus.choices)
REASON_SHOWN = 80
NO_PNL = mark_safe('<span class="muted">\u2014</span>')  # a bot without books yet


@dataclass(slots=True)
class BotRow:
    """What the dashboard reads of a bot, as plain values: turning 50 rows into `Bot` instances
    cost more than the query itself. Reads as a `Bot` where the page uses one (`pk`, `name`,
    `symbol`, `status`, `status_reason`), and as `trading.pnl.Priced` for `mark_prices`."""

    pk: int
    name: str
    symbol: str
    status: str
    status_reason: str
    lower_price: str | None  # the config's, as text
    upper_price: str | None
    ledger: dict[str, Any] | None
    price_at_start: Decimal | None
    started_at: datetime | None
    stopped_at: datetime | None
    exchange: str  # the venue of its exchange account
    account_owner_id: int
    last_fill_at: datetime | None
    open_orders: int | None
    midnight_equity: Decimal | None  # this run's last snapshot before local midnight

    @property
    def books(self) -> Ledger | None:
        return codec.ledger_from_json(self.ledger) if self.ledger else None


# `BotRow`'s fields, in order, as `_bot_rows` selects them.
ROW_COLUMNS = (
    "pk",
    "name",
    "symbol",
    "status",
    "status_reason",
    "lower_price",
    "upper_price",
    "ledger",
    "price_at_start",
    "started_at",
    "stopped_at",
    "exchange_account__exchange",
    "exchange_account__owner",
    "last_fill_at",
    "open_orders",
    "midnight_equity",
)


@dataclass
class BotLine:
    """One bot's row, with what the row shows worked out here, once: Python is many times
    cheaper than the template's lookups and filters, and the page has a row per bot."""

    bot: BotRow
    quote: str
    summary: LedgerSummary | None
    today_pnl: Decimal | None
    last_fill_at: datetime | None
    open_orders: int
    stop_url: str = ""  # the dashboard's, filled in by the view
    dom_id: str = field(init=False)
    href: str = field(init=False)
    status_label: str = field(init=False)
    status_note: str = field(init=False)
    price_range: str = field(init=False)
    in_play: bool = field(init=False)
    can_stop: bool = field(init=False)
    can_edit: bool = field(init=False)  # edit and delete: nothing of it can trade

    def __post_init__(self) -> None:
        bot = self.bot
        self.dom_id = f"bot-row-{bot.pk}"
        self.href = f"/bots/{bot.pk}/"
        self.status_label = STATUS_LABELS.get(bot.status, bot.status)
        self.status_note = Truncator(bot.status_reason).chars(REASON_SHOWN) if bot.status_reason else ""
        self.price_range = f"{plain(bot.lower_price)} \u2013 {plain(bot.upper_price)}"
        self.in_play = bot.status not in IDLE_STATUSES
        self.can_stop = bot.status in actions.STOPPABLE
        self.can_edit = actions.is_editable(bot.status, self.open_orders)

    @property
    def pnl_html(self) -> str:
        """The row's PnL as the page shows it: formatted only when a page reads it."""
        return pnl(self.summary.total_pnl, "0.01", self.quote) if self.summary else NO_PNL


@dataclass
class QuoteTotals:
    """Totals in one quote asset: amounts in different quotes are never added together."""

    quote: str
    equity: Decimal = Decimal(0)
    total_pnl: Decimal = Decimal(0)
    today_pnl: Decimal = Decimal(0)
    grid_profit: Decimal = Decimal(0)


@dataclass
class Overview:
    lines: list[BotLine]
    totals: list[QuoteTotals]
    running: int
    open_orders: int
    recent_fills: list[RecentFill] = field(default_factory=list)
    now: datetime = field(default_factory=timezone.now)
    zone: str = ""  # the trader's time zone, whose midnight begins "today"

    @property
    def stoppable(self) -> int:
        return sum(1 for line in self.lines if line.can_stop)

    @property
    def chart_point(self) -> dict[str, Any] | None:
        """The equity chart's newest point: "Equity in live bots" of the chart's quote, now."""
        if not self.totals:
            return None
        return {"time": int(self.now.timestamp()), "value": str(self.totals[0].equity)}


# Reading ------------------------------------------------------------------------


def _bot_rows(user: User, midnight: datetime) -> list[BotRow]:
    """The user's bots as the dashboard lists them, running ones first."""
    return [BotRow(*row) for row in _ROWS.rows(user.pk, midnight)]


def _rows_query(owner_id: int, midnight: datetime) -> QuerySet[Bot, tuple[Any, ...]]:
    last_fill = Fill.objects.filter(bot=OuterRef("pk")).order_by("-time").values("time")[:1]
    # The last snapshot before midnight counts only if this run took it: the last one taken
    # between the run's start and midnight is that snapshot when it exists.
    at_midnight = (
        EquitySnapshot.objects.filter(bot=OuterRef("pk"), time__gte=OuterRef("started_at"), time__lt=midnight)
        .order_by("-time")
        .values("equity")[:1]
    )
    open_orders = (
        Order.objects.filter(bot=OuterRef("pk"), status__in=LIVE_STATUSES)
        .values("bot")
        .annotate(n=Count("*"))
        .values("n")
    )
    return (
        Bot.objects.owned_by(owner_id)
        .annotate(
            # As text: the range is all the row shows of the config, and it needs no decoding.
            lower_price=KT("config__lower_price"),
            upper_price=KT("config__upper_price"),
            last_fill_at=Subquery(last_fill),
            open_orders=Subquery(open_orders, output_field=IntegerField()),
            midnight_equity=Subquery(at_midnight),
        )
        .order_by(RUNNING_FIRST, "-created_at", "-pk")
        .values_list(*ROW_COLUMNS)
    )


# Stand-ins for `_rows_query`'s arguments while its SQL is compiled: no real owner or
# midnight can equal them, so their places among the parameters are unmistakable. Building
# and compiling the query cost the page more than running it.
_OWNER_MARKER = -918_273_645
_MIDNIGHT_MARKER = datetime(1901, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
_ROWS = CompiledRows(_rows_query, _OWNER_MARKER, _MIDNIGHT_MARKER)


def user_zone(user: User) -> zoneinfo.ZoneInfo:
    """The trader's time zone; UTC when theirs is unknown."""
    try:
        return zoneinfo.ZoneInfo(user.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def local_midnight(user: User, now: datetime) -> datetime:
    return timezone.localtime(now, user_zone(user)).replace(hour=0, minute=0, second=0, microsecond=0)


def _today_pnl(bot: BotRow, summary: LedgerSummary, midnight: datetime) -> Decimal:
    """`today_pnl` from the last snapshot this run took before local midnight (read by `_bot_rows`)."""
    ended = bot.status in IDLE_STATUSES and bot.stopped_at is not None and bot.stopped_at < midnight
    return today_pnl(summary, midnight_equity=bot.midnight_equity, ended_before_midnight=ended)


def _line(bot: BotRow, mark: Decimal | None, now: datetime, midnight: datetime) -> BotLine:
    books = bot.books if mark is not None else None
    summary = (
        run_pnl(books, mark, started_at=bot.started_at, stopped_at=bot.stopped_at, now=now)
        if books is not None and mark is not None
        else None
    )
    return BotLine(
        bot=bot,
        quote=books.quote_asset if summary is not None and books else "",
        summary=summary,
        today_pnl=_today_pnl(bot, summary, midnight) if summary else None,
        last_fill_at=bot.last_fill_at,
        open_orders=bot.open_orders or 0,  # no live order: no group to count
    )


def _totals(lines: list[BotLine]) -> list[QuoteTotals]:
    by_quote: dict[str, QuoteTotals] = {}
    for line in lines:
        if line.summary is None:
            continue
        totals = by_quote.setdefault(line.quote, QuoteTotals(line.quote))
        totals.total_pnl += line.summary.total_pnl
        # Over the same bots as the total, so that for bots started today the two agree.
        totals.today_pnl += line.today_pnl or Decimal(0)
        totals.grid_profit += line.summary.grid_profit
        if line.in_play:
            totals.equity += line.summary.equity
    return sorted(by_quote.values(), key=lambda t: -t.equity)


def overview(user: User, *, now: datetime | None = None) -> Overview:
    """Every figure the dashboard shows, in a fixed number of queries whatever the number of bots."""
    now = now or timezone.now()
    midnight = local_midnight(user, now)
    bots = _bot_rows(user, midnight)
    marks = mark_prices(bots)
    lines = []
    for bot in bots:
        lines.append(_line(bot, marks[bot.pk], now, midnight))
    return Overview(
        lines=lines,
        totals=_totals(lines),
        running=sum(1 for bot in bots if bot.status == BotStatus.RUNNING),
        open_orders=sum(line.open_orders for line in lines),
        recent_fills=recent_fills(user, bots),
        now=now,
        zone=str(user_zone(user)),
    )


@dataclass(slots=True)
class RecentFill:
    """A fill as the dashboard lists it."""

    pk: int
    time: datetime
    bot_id: int
    bot_name: str
    side: str
    price: Decimal
    quantity: Decimal
    symbol: str
    base_asset: str  # what the quantity counts: BTC for BTCUSDT

    @property
    def side_label(self) -> str:
        return SIDE_LABELS.get(self.side, self.side)


SIDE_LABELS: dict[str, str] = {
    str(value): str(label) for value, label in Fill._meta.get_field("side").choices or ()
}
FILL_COLUMNS = ("pk", "time", "bot_id", "side", "price", "quantity", "symbol")


def recent_fills(user: User, bots: list[BotRow], limit: int = RECENT_FILLS) -> list[RecentFill]:
    """The trader's newest `limit` fills; `bots` are all theirs, as `_bot_rows` reads them. Once
    `limit` bots have filled, the `limit`-th newest of their last fills is a floor: at least
    `limit` fills are that new, so no older one makes the list, and only bots whose last fill
    reaches the floor can hold one. Each is read from its (bot, time, id) index."""
    last_fills = sorted((bot.last_fill_at for bot in bots if bot.last_fill_at is not None), reverse=True)
    names = {bot.pk: bot.name for bot in bots}
    # A bot with fills has books, which name its base asset; no venue is asked for it.
    bases = {bot.pk: codec.ledger_base_asset(bot.ledger) or bot.symbol for bot in bots}
    if len(last_fills) < limit:
        return [
            RecentFill(
                f.pk,
                f.time,
                f.bot_id,
                names[f.bot_id],
                f.side,
                f.price,
                f.quantity,
                f.symbol,
                bases[f.bot_id],
            )
            for f in page_of(user, {}, size=limit).fills
        ]
    floor = last_fills[limit - 1]
    candidates = [bot.pk for bot in bots if bot.last_fill_at is not None and bot.last_fill_at >= floor]
    rows = (
        Fill.objects.filter(bot_id__in=candidates, time__gte=floor)
        .order_by("-time", "-id")
        .values_list(*FILL_COLUMNS)[:limit]
    )
    # The bots' names are already read: no join, no second copy of each bot.
    return [
        RecentFill(pk, time, bot_id, names[bot_id], side, price, quantity, symbol, bases[bot_id])
        for pk, time, bot_id, side, price, quantity, symbol in rows
    ]
