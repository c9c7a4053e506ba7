"""The dashboard: the site root for a signed-in trader, its live fragments and "stop all".
Its figures are trading.overview's; this module draws them."""

from __future__ import annotations

import hashlib
from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import User
from accounts.twofactor import has_two_factor
from accounts.verification import has_verified_email
from bots import actions
from bots.models import Bot
from exchanges.models import ExchangeAccount
from trading import overview as figures
from trading.models import EquitySnapshot

# Re-exported: the dashboard's figures were first defined here, and are still imported from here.
from trading.overview import (  # noqa: F401
    FILL_COLUMNS,
    IDLE_STATUSES,
    NO_PNL,
    REASON_SHOWN,
    RECENT_FILLS,
    ROW_COLUMNS,
    RUNNING_FIRST,
    SIDE_LABELS,
    STATUS_LABELS,
    BotLine,
    BotRow,
    Overview,
    QuoteTotals,
    RecentFill,
    _bot_rows,
    _line,
    _rows_query,
    _today_pnl,
    _totals,
    local_midnight,
    recent_fills,
)
from trading.overview import user_zone as _zone

TEMPLATE = "bots/dashboard.html"
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


# Reading ------------------------------------------------------------------------


def overview(user: User, *, now: datetime | None = None) -> Overview:
    """trading.overview's figures, with each row's stop URL for the page's buttons."""
    data = figures.overview(user, now=now)
    stop_urls = _stop_urls([line.bot.pk for line in data.lines])
    for line in data.lines:
        line.stop_url = stop_urls[line.bot.pk]
    return data


def _stop_urls(pks: list[int]) -> dict[int, str]:
    """Each row's stop URL at the cost of one `reverse` (a row's cost on a page of 50 bots):
    they differ only in the bot's id, here a marker no id can be confused with."""
    marker = 987654321987
    pattern = reverse("dashboard_stop_bot", args=[marker])
    return {pk: pattern.replace(str(marker), str(pk)) for pk in pks}


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
