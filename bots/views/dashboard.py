"""The dashboard: the site root for a signed-in trader, its live fragments and "stop all"."""

from __future__ import annotations

import hashlib
import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.db.models import Case, Count, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.fields.json import KT
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.twofactor import has_two_factor
from accounts.verification import has_verified_email
from bots import actions, codec
from bots.models import Bot, BotStatus
from bots.rows import CompiledRows
from exchanges.models import ExchangeAccount
from trading.history import page_of
from trading.ledger import Ledger, LedgerSummary
from trading.models import LIVE_STATUSES, EquitySnapshot, Fill, Order
from trading.pnl import mark_prices, run_pnl, today_pnl
from trading.templatetags.money import plain, pnl

TEMPLATE = "bots/dashboard.html"
RECENT_FILLS = 10
CHART_DAYS = 7
# (span, step): the chart samples each span back from now at its step, finer the nearer now, so
# that a bot's first minutes already draw a line and a week stays a few hundred points.
CHART_RESOLUTIONS = (
    (timedelta(days=CHART_DAYS), timedelta(hours=2)),
    (timedelta(days=1), timedelta(minutes=15)),
    (timedelta(hours=3), timedelta(minutes=1)),
)
# A running bot snapshots its equity every minute (bots.engine.SNAPSHOT_EVERY): one with no
# snapshot this long before a point was not running then, and is not in that point's sum.
LIVE_WINDOW = timedelta(minutes=3)
# A chart point this far in the past has every snapshot it will ever have (taking one commits
# within a tick); the margin is wide so that a slow tick's snapshot still lands before it.
SETTLED_AFTER = timedelta(minutes=10)
CHART_CACHE_SECONDS = int((timedelta(days=CHART_DAYS) + CHART_RESOLUTIONS[0][1]).total_seconds())
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
    stop_url: str = ""
    dom_id: str = field(init=False)
    href: str = field(init=False)
    status_label: str = field(init=False)
    status_note: str = field(init=False)
    price_range: str = field(init=False)
    pnl_html: str = field(init=False)
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
        self.pnl_html = pnl(self.summary.total_pnl, "0.01", self.quote) if self.summary else NO_PNL
        self.in_play = bot.status not in IDLE_STATUSES
        self.can_stop = bot.status in actions.STOPPABLE
        self.can_edit = actions.is_editable(bot.status, self.open_orders)


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


def _zone(user: User) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def local_midnight(user: User, now: datetime) -> datetime:
    return timezone.localtime(now, _zone(user)).replace(hour=0, minute=0, second=0, microsecond=0)


def _today_pnl(bot: BotRow, summary: LedgerSummary, midnight: datetime) -> Decimal:
    """`today_pnl` from the last snapshot this run took before local midnight (read by `_bot_rows`)."""
    ended = bot.status in IDLE_STATUSES and bot.stopped_at is not None and bot.stopped_at < midnight
    return today_pnl(summary, midnight_equity=bot.midnight_equity, ended_before_midnight=ended)


def _line(bot: BotRow, mark: Decimal | None, now: datetime, midnight: datetime, stop_url: str) -> BotLine:
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
        stop_url=stop_url,
    )


def _stop_urls(pks: list[int]) -> dict[int, str]:
    """Each row's stop URL at the cost of one `reverse` (a row's cost on a page of 50 bots):
    they differ only in the bot's id, here a marker no id can be confused with."""
    marker = 987654321987
    pattern = reverse("dashboard_stop_bot", args=[marker])
    return {pk: pattern.replace(str(marker), str(pk)) for pk in pks}


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
    """Everything the dashboard shows, in a fixed number of queries whatever the number of bots."""
    now = now or timezone.now()
    midnight = local_midnight(user, now)
    bots = _bot_rows(user, midnight)
    marks = mark_prices(bots)
    stop_urls = _stop_urls([bot.pk for bot in bots])
    lines = []
    for bot in bots:
        lines.append(_line(bot, marks[bot.pk], now, midnight, stop_urls[bot.pk]))
    return Overview(
        lines=lines,
        totals=_totals(lines),
        running=sum(1 for bot in bots if bot.status == BotStatus.RUNNING),
        open_orders=sum(line.open_orders for line in lines),
        recent_fills=recent_fills(user, bots),
        now=now,
        zone=str(_zone(user)),
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


def chart_points(now: datetime) -> list[datetime]:
    """When the equity chart samples, oldest first: every CHART_RESOLUTIONS step over its span,
    aligned to the clock so that a settled point keeps its time from one page to the next."""
    points: set[datetime] = set()
    for span, step in CHART_RESOLUTIONS:
        start = now - span
        start += timedelta(seconds=-start.timestamp() % step.total_seconds())
        points.update(start + step * n for n in range(int((now - start) / step) + 1))
    return sorted(at for at in points if int(at.timestamp()) < int(now.timestamp()))


def equity_series(
    quote: str, lines: list[BotLine], *, now: datetime, live_equity: Decimal | None = None
) -> list[dict[str, Any]]:
    """ "Equity in live bots" over the last CHART_DAYS: at each point, the sum of the last snapshot
    of each bot that was running then (one taken within LIVE_WINDOW before it). The newest point
    is now, `live_equity`: the figure the card shows. Values are decimal strings; the chart turns
    them into numbers for drawing only."""
    bot_ids = [line.bot.pk for line in lines if line.quote == quote]
    if not bot_ids:
        return []
    points = chart_points(now)
    totals = _equity_at_points_cached(bot_ids, points, now=now)
    series = [{"time": int(at.timestamp()), "value": str(totals[at])} for at in points if at in totals]
    if live_equity is not None:
        series.append({"time": int(now.timestamp()), "value": str(live_equity)})
    return series


def _equity_at_points_cached(
    bot_ids: list[int], points: list[datetime], *, now: datetime
) -> dict[datetime, Decimal]:
    """`_equity_at_points`, remembering the points that can no longer change. Snapshots are
    only ever added at the time they are taken (bots.engine) and leave only with their bot, so
    a point SETTLED_AFTER in the past has its final sum for a given set of bots; the set is in
    the cache key, so a bot added or deleted starts afresh. Only the newest points are read."""
    key = "equity-chart:v2:" + hashlib.sha256(",".join(map(str, sorted(bot_ids))).encode()).hexdigest()
    known: dict[int, str | None] = cache.get(key) or {}
    settled_before = now - SETTLED_AFTER
    wanted = [at for at in points if int(at.timestamp()) not in known]
    found = _equity_at_points(bot_ids, wanted) if wanted else {}
    newly_settled = {int(at.timestamp()): _text(found.get(at)) for at in wanted if at <= settled_before}
    if newly_settled:
        horizon = int((now - timedelta(days=CHART_DAYS) - CHART_RESOLUTIONS[0][1]).timestamp())
        kept = {at: value for at, value in known.items() if at >= horizon}
        cache.set(key, kept | newly_settled, CHART_CACHE_SECONDS)
    remembered = ((at, known.get(int(at.timestamp()))) for at in points)
    return {at: Decimal(value) for at, value in remembered if value is not None} | found


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _equity_at_points(bot_ids: list[int], points: list[datetime]) -> dict[datetime, Decimal]:
    if connection.vendor == "postgresql":
        # One index probe per bot and point, however often bots snapshot.
        sql = f"""
            SELECT p.at, SUM(s.equity)
            FROM unnest(%s::timestamptz[]) AS p(at)
            CROSS JOIN unnest(%s::bigint[]) AS b(id)
            CROSS JOIN LATERAL (
                SELECT equity FROM {EquitySnapshot._meta.db_table}
                WHERE bot_id = b.id AND time <= p.at AND time > p.at - make_interval(secs => %s)
                ORDER BY time DESC LIMIT 1
            ) AS s
            GROUP BY p.at
        """  # noqa: S608 - the table name is ours; values are parameters
        with connection.cursor() as cursor:
            cursor.execute(sql, [points, bot_ids, LIVE_WINDOW.total_seconds()])
            return dict(cursor.fetchall())
    # The embedded shape (SQLite) holds one demo's worth of snapshots: read them all.
    rows = EquitySnapshot.objects.filter(
        bot_id__in=bot_ids, time__gt=points[0] - LIVE_WINDOW, time__lte=points[-1]
    ).values_list("bot_id", "time", "equity")
    latest: dict[tuple[datetime, int], tuple[datetime, Decimal]] = {}
    for bot_id, time, equity in rows:
        for at in points:
            earlier = latest.get((at, bot_id))
            if at - LIVE_WINDOW < time <= at and (earlier is None or time > earlier[0]):
                latest[(at, bot_id)] = (time, equity)
    totals: dict[datetime, Decimal] = defaultdict(Decimal)
    for (at, _), (_, equity) in latest.items():
        totals[at] += equity
    return totals


def onboarding(user: User, lines: list[BotLine] | None = None) -> dict[str, bool]:
    """The getting-started steps; `lines` (the user's bots) can tell "connected" without a query,
    since a bot trades on an account of its owner's."""
    owned_account = any(line.bot.account_owner_id == user.pk for line in lines or ())
    steps = {
        "email_verified": has_verified_email(user),
        "two_factor": has_two_factor(user),
        "connected": owned_account or ExchangeAccount.objects.owned_by(user).exists(),
    }
    return {**steps, "onboarding": not all(steps.values())}


# Pages --------------------------------------------------------------------------


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def dashboard(request: HttpRequest) -> HttpResponse:
    if not request.user.is_authenticated:
        return render(request, "landing.html")
    user = _user(request)
    now = timezone.now()
    data = overview(user, now=now)
    chart_quote = data.totals[0].quote if data.totals else ""
    live_equity = data.totals[0].equity if data.totals else None
    series = equity_series(chart_quote, data.lines, now=now, live_equity=live_equity) if chart_quote else []
    context = {
        "overview": data,
        "chart_quote": chart_quote,
        "equity_series": series,
        **onboarding(user, data.lines),
    }
    return render(request, TEMPLATE, context)


@login_required
def live_region(request: HttpRequest) -> HttpResponse:
    """The live part of the dashboard, for a page catching up after its websocket reconnects."""
    return render(request, f"{TEMPLATE}#live", {"overview": overview(_user(request))})


def live_fragments(user: User, event: dict[str, Any]) -> str:
    """HTML the live consumer sends for `event` (a `bot.event` from bots.live): the cards, the
    changed bot's row and the recent fills, each swapped out of band by its stable id."""
    return burst_fragments(user, [event])


def burst_fragments(user: User, events: list[dict[str, Any]]) -> str:
    """`live_fragments` for a burst of events at the cost of one: the overview is read once, and
    the cards and recent fills (which every event changes alike) are rendered once, between
    them the row of each bot the burst names, in the order the bots first spoke."""
    data = overview(user)
    context: dict[str, Any] = {"overview": data, "oob": True}
    with timezone.override(_zone(user)):
        parts = [render_to_string(f"{TEMPLATE}#cards", context)]
        if any(_lists_bots_anew(event) for event in events):
            # The page may lack the row (a bot created since it loaded, a page catching up): the
            # whole list is sent, in the page's order.
            context["connected"] = bool(data.lines) or ExchangeAccount.objects.owned_by(user).exists()
            parts.append(render_to_string(f"{TEMPLATE}#bots", context))
        else:
            by_bot = {line.bot.pk: line for line in data.lines}
            named = dict.fromkeys(event.get("bot_id") for event in events)
            lines = [by_bot[pk] for pk in named if pk in by_bot]  # only the user's own bots are in `by_bot`
            row_context = {**context, "row_oob": True}
            parts += [render_to_string(f"{TEMPLATE}#bot-row", {**row_context, "line": ln}) for ln in lines]
        parts.append(render_to_string(f"{TEMPLATE}#recent-fills", context))
    return "".join(parts)


# Events after which the page's list of bots may lack a row: the whole list is sent.
LIST_ANEW_KINDS = frozenset({"connect", "created"})


def _lists_bots_anew(event: dict[str, Any]) -> bool:
    kinds = set(event.get("kinds") or ()) | {event.get("kind")}
    return bool(kinds & LIST_ANEW_KINDS)


@login_required
@require_POST
def stop_bot(request: HttpRequest, bot_id: int) -> HttpResponse:
    user = _user(request)
    bot = get_object_or_404(Bot.objects.owned_by(user), pk=bot_id)
    try:
        actions.do_stop_bot(bot)
        outcome, level = f"Stopping “{bot.name}”: its orders are being cancelled.", messages.SUCCESS
    except actions.InvalidTransition as refused:
        outcome, level = str(refused), messages.ERROR
    if getattr(request, "htmx", False):
        # The row's new status is the answer; a queued message would surface on some later page.
        line = next(line for line in overview(user).lines if line.bot.pk == bot.pk)
        return render(request, f"{TEMPLATE}#bot-row", {"line": line})
    messages.add_message(request, level, outcome)
    return redirect("home")


@login_required
def stop_all(request: HttpRequest) -> HttpResponse:
    """GET asks for confirmation (a page, or its fragment over htmx); POST stops every bot."""
    user = _user(request)
    if request.method == "POST":
        stopped = actions.do_stop_all(user, sell_base=request.POST.get("sell_base") == "on")
        if stopped:
            count = f"{len(stopped)} bot{'s' if len(stopped) != 1 else ''}"
            messages.success(request, f"Emergency stop: {count} stopping, their orders being cancelled.")
        else:
            messages.info(request, "No bot was running: nothing to stop.")
        return redirect("home")
    bots = list(Bot.objects.owned_by(user).filter(status__in=actions.STOPPABLE).order_by("name"))
    template = "bots/stop_all.html"
    if getattr(request, "htmx", False):
        template += "#stop-all-confirm"
    return render(request, template, {"bots": bots})
