"""The dashboard: the site root for a signed-in trader, its live fragments and "stop all"."""

from __future__ import annotations

import zoneinfo
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Case, Count, IntegerField, OuterRef, QuerySet, Subquery, Value, When
from django.db.models.functions import Coalesce, Trunc
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.twofactor import has_two_factor
from accounts.verification import has_verified_email
from bots import actions
from bots.models import Bot, BotStatus
from exchanges.models import ExchangeAccount
from trading.ledger import LedgerSummary
from trading.models import LIVE_STATUSES, EquitySnapshot, Fill, Order
from trading.pnl import bot_pnl, mark_prices

TEMPLATE = "bots/dashboard.html"
RECENT_FILLS = 10
CHART_DAYS = 7
# Bots whose funds are still in play: their equity and today's PnL count in the totals.
IDLE_STATUSES = (BotStatus.DRAFT, BotStatus.STOPPED)
RUNNING_FIRST = Case(
    When(status=BotStatus.RUNNING, then=Value(0)),
    When(status__in=(BotStatus.STARTING, BotStatus.STOPPING, BotStatus.ERROR), then=Value(1)),
    default=Value(2),
    output_field=IntegerField(),
)


@dataclass
class BotLine:
    bot: Bot
    summary: LedgerSummary | None
    today_pnl: Decimal | None
    last_fill_at: datetime | None
    open_orders: int

    @property
    def dom_id(self) -> str:
        return f"bot-row-{self.bot.pk}"

    @property
    def quote(self) -> str:
        books = self.bot.books
        return books.quote_asset if books else ""

    @property
    def in_play(self) -> bool:
        return self.bot.status not in IDLE_STATUSES

    @property
    def can_stop(self) -> bool:
        return self.bot.status in actions.STOPPABLE


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
    recent_fills: list[Fill] = field(default_factory=list)

    @property
    def stoppable(self) -> int:
        return sum(1 for line in self.lines if line.can_stop)


# Reading ------------------------------------------------------------------------


def _bots(user: User) -> QuerySet[Bot]:
    last_fill = Fill.objects.filter(bot=OuterRef("pk")).order_by("-time").values("time")[:1]
    open_orders = (
        Order.objects.filter(bot=OuterRef("pk"), status__in=LIVE_STATUSES)
        .values("bot")
        .annotate(n=Count("*"))
        .values("n")
    )
    return (
        Bot.objects.owned_by(user)
        .select_related("exchange_account")
        .annotate(
            last_fill_at=Subquery(last_fill),
            open_orders=Coalesce(Subquery(open_orders, output_field=IntegerField()), 0),
            running_first=RUNNING_FIRST,
        )
        .order_by("running_first", "-created_at", "-pk")
    )


def _zone(user: User) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("UTC")


def local_midnight(user: User, now: datetime) -> datetime:
    return timezone.localtime(now, _zone(user)).replace(hour=0, minute=0, second=0, microsecond=0)


def _equity_at_midnight(bots: list[Bot], midnight: datetime) -> dict[int, tuple[datetime, Decimal]]:
    """Each bot's last snapshot before `midnight`, in one DISTINCT ON query."""
    if not bots:
        return {}
    rows = (
        EquitySnapshot.objects.filter(bot__in=bots, time__lt=midnight)
        .order_by("bot_id", "-time")
        .distinct("bot_id")
        .values_list("bot_id", "time", "equity")
    )
    return {bot_id: (time, equity) for bot_id, time, equity in rows}


def _today_pnl(bot: Bot, summary: LedgerSummary, baseline: tuple[datetime, Decimal] | None) -> Decimal:
    """Equity now minus equity at local midnight; a run started since then counts from its investment."""
    if baseline is not None and bot.started_at is not None and baseline[0] >= bot.started_at:
        return summary.equity - baseline[1]
    return summary.equity - summary.investment


def _totals(lines: list[BotLine]) -> list[QuoteTotals]:
    by_quote: dict[str, QuoteTotals] = {}
    for line in lines:
        if line.summary is None:
            continue
        totals = by_quote.setdefault(line.quote, QuoteTotals(line.quote))
        totals.total_pnl += line.summary.total_pnl
        totals.grid_profit += line.summary.grid_profit
        if line.in_play:
            totals.equity += line.summary.equity
            totals.today_pnl += line.today_pnl or Decimal(0)
    return sorted(by_quote.values(), key=lambda t: -t.equity)


def overview(user: User, *, now: datetime | None = None) -> Overview:
    """Everything the dashboard shows, in a fixed number of queries whatever the number of bots."""
    now = now or timezone.now()
    bots = list(_bots(user))
    marks = mark_prices(bots)
    baselines = _equity_at_midnight(bots, local_midnight(user, now))
    lines = []
    for bot in bots:
        summary = bot_pnl(bot, marks[bot.pk], now=now) if marks[bot.pk] is not None else None
        today = _today_pnl(bot, summary, baselines.get(bot.pk)) if summary else None
        lines.append(BotLine(bot, summary, today, bot.last_fill_at, bot.open_orders))  # type: ignore[attr-defined]
    return Overview(
        lines=lines,
        totals=_totals(lines),
        running=sum(1 for bot in bots if bot.status == BotStatus.RUNNING),
        open_orders=sum(line.open_orders for line in lines),
        recent_fills=recent_fills(user),
    )


def recent_fills(user: User, limit: int = RECENT_FILLS) -> list[Fill]:
    return list(Fill.objects.filter(bot__owner=user).select_related("bot").order_by("-time", "-id")[:limit])


def equity_series(user: User, quote: str, lines: list[BotLine], *, now: datetime) -> list[dict[str, Any]]:
    """Hourly total equity over the last days: per hour, the last snapshot of each bot that
    recorded one, summed. Values are decimal strings; the chart turns them into numbers."""
    bot_ids = [line.bot.pk for line in lines if line.quote == quote]
    if not bot_ids:
        return []
    rows = (
        EquitySnapshot.objects.filter(bot_id__in=bot_ids, time__gte=now - timedelta(days=CHART_DAYS))
        .annotate(hour=Trunc("time", "hour", tzinfo=zoneinfo.ZoneInfo("UTC")))
        .order_by("bot_id", "hour", "-time")
        .distinct("bot_id", "hour")
        .values_list("hour", "equity")
    )
    per_hour: dict[datetime, Decimal] = defaultdict(Decimal)
    for hour, equity in rows:
        per_hour[hour] += equity
    return [{"time": int(hour.timestamp()), "value": str(total)} for hour, total in sorted(per_hour.items())]


def onboarding(user: User) -> dict[str, bool]:
    steps = {
        "email_verified": has_verified_email(user),
        "two_factor": has_two_factor(user),
        "connected": ExchangeAccount.objects.owned_by(user).exists(),
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
    context = {
        "overview": data,
        "chart_quote": chart_quote,
        "equity_series": equity_series(user, chart_quote, data.lines, now=now) if chart_quote else [],
        **onboarding(user),
    }
    return render(request, TEMPLATE, context)


@login_required
def live_region(request: HttpRequest) -> HttpResponse:
    """The live part of the dashboard, for a page catching up after its websocket reconnects."""
    return render(request, f"{TEMPLATE}#live", {"overview": overview(_user(request))})


def live_fragments(user: User, event: dict[str, Any]) -> str:
    """HTML the live consumer sends for `event` (a `bot.event` from bots.live): the cards, the
    changed bot's row and the recent fills, each swapped out of band by its stable id."""
    data = overview(user)
    context: dict[str, Any] = {"overview": data, "oob": True}
    line = next((line for line in data.lines if line.bot.pk == event.get("bot_id")), None)
    with timezone.override(_zone(user)):
        parts = [render_to_string(f"{TEMPLATE}#cards", context)]
        if line is not None:
            parts.append(render_to_string(f"{TEMPLATE}#bot-row", {**context, "line": line}))
        parts.append(render_to_string(f"{TEMPLATE}#recent-fills", context))
    return "".join(parts)


@login_required
@require_POST
def stop_bot(request: HttpRequest, bot_id: int) -> HttpResponse:
    user = _user(request)
    bot = get_object_or_404(Bot.objects.owned_by(user), pk=bot_id)
    try:
        actions.do_stop_bot(bot)
        messages.success(request, f"Stopping “{bot.name}”: its orders are being cancelled.")
    except actions.InvalidTransition as refused:
        messages.error(request, str(refused))
    if getattr(request, "htmx", False):
        line = next(line for line in overview(user).lines if line.bot.pk == bot.pk)
        return render(request, f"{TEMPLATE}#bot-row", {"line": line})
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
