"""A bot's detail page: its state, PnL, chart and tabs, the buttons that run it, and the
fragments its websocket swaps in (`live_fragments`, called by bots.consumers.BotConsumer)."""

from __future__ import annotations

import json
import zoneinfo
from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.db.models import Count, F, Q, QuerySet
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import User
from bots import actions
from bots.engine import plain
from bots.models import Bot, BotEvent, BotStatus
from bots.strategies import grid
from bots.views.charts import candle_points
from exchanges.base import CANDLE_INTERVALS, ExchangeError, Instrument
from exchanges.instruments import instrument_for, recent_candles
from trading.ledger import LedgerSummary
from trading.models import LIVE_STATUSES, Fill, Order, OrderStatus
from trading.pnl import bot_pnl, mark_price

TEMPLATE = "bots/detail.html"
TABS: dict[str, str] = {
    "orders": "Active orders",
    "trades": "Trades",
    "problems": "Cancelled & rejected",
    "events": "Event log",
}
DEFAULT_TAB = "orders"
ROWS_PER_TAB = 50
ENDED_STATUSES = (OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.LOST)
CHART_FILLS = 200
CANDLES_SHOWN = 150
CANDLE_CACHE_SECONDS = 15
STARTABLE = (BotStatus.DRAFT, BotStatus.STOPPED, BotStatus.ERROR)

# Which fragments an event changes; "connect" (a page catching up) changes everything.
HEADER_KINDS = {"connect", "status", "fill"}
ACTION_KINDS = {"connect", "status"}  # not on fills: a half-filled stop form must survive them
HEADER_OR_ACTION_KINDS = HEADER_KINDS | ACTION_KINDS
CHART_KINDS = {"connect", "status", "fill", "order"}
TAB_KINDS = {"connect", "status", "fill", "order", "tab"}


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _own_bot(user: User, pk: int) -> Bot:
    """Another trader's bot does not exist, as far as this user can tell."""
    return get_object_or_404(Bot.objects.owned_by(user).select_related("exchange_account"), pk=pk)


def _shown_bots(user: User) -> QuerySet[Bot]:
    """The user's bots as the page reads them: without the grid's level states, which it does
    not show and which are the largest column to decode."""
    return Bot.objects.owned_by(user).select_related("exchange_account").defer("state")


# Context -----------------------------------------------------------------------


@dataclass(frozen=True)
class Precision:
    """Steps the page formats numbers with; the quote's cents when the venue cannot say."""

    price: Decimal
    quantity: Decimal
    quote: str
    base: str

    @classmethod
    def of(cls, instrument: Instrument | None, bot: Bot) -> Precision:
        if instrument is None:
            return cls(Decimal("0.01"), Decimal("0.000001"), "", bot.symbol)
        return cls(instrument.tick_size, instrument.quantity_step, instrument.quote, instrument.base)


def _instrument(bot: Bot) -> Instrument | None:
    try:
        return instrument_for(bot.exchange_account, bot.symbol)
    except ExchangeError:
        return None


def base_context(bot: Bot, instrument: Instrument | None) -> dict[str, Any]:
    return {"bot": bot, "precision": Precision.of(instrument, bot)}


def header_context(bot: Bot, instrument: Instrument | None) -> dict[str, Any]:
    mark = mark_price(bot)
    summary: LedgerSummary | None = bot_pnl(bot, mark) if mark is not None else None
    return {
        **base_context(bot, instrument),
        "config": bot.grid_config,
        "summary": summary,
        "mark": mark,
        "can_start": bot.status in STARTABLE,
        "can_stop": bot.status in actions.STOPPABLE,
        "max_restarts": actions.MAX_AUTO_RESTARTS,
    }


def tab_context(bot: Bot, tab: str) -> dict[str, Any]:
    orders = Order.objects.filter(bot=bot)
    rows: QuerySet[Any]
    if tab == "orders":
        rows = orders.filter(status__in=LIVE_STATUSES).order_by("-price", "-id")
    elif tab == "trades":
        rows = (
            Fill.objects.filter(bot=bot).annotate(value=F("price") * F("quantity")).order_by("-time", "-id")
        )
    elif tab == "problems":
        rows = orders.filter(status__in=ENDED_STATUSES).order_by("-updated_at", "-id")
    else:
        rows = BotEvent.objects.filter(bot=bot)
    counts = orders.aggregate(
        orders=Count("pk", filter=Q(status__in=LIVE_STATUSES)),
        problems=Count("pk", filter=Q(status__in=ENDED_STATUSES)),
    )
    counts["trades"] = Fill.objects.filter(bot=bot).count()
    return {
        "tab": tab,
        "rows": rows[:ROWS_PER_TAB],
        "tab_links": [{"key": key, "label": label, "count": counts.get(key)} for key, label in TABS.items()],
    }


def chart_data(bot: Bot, instrument: Instrument | None) -> str:
    """What the chart draws over the candles, as JSON with decimal strings (display only)."""
    config = bot.grid_config
    lines = [plain(p) for p in grid.grid_lines(config, instrument)] if instrument is not None else []
    orders = Order.objects.filter(bot=bot, status__in=LIVE_STATUSES, price__isnull=False)
    # Tuples, not model instances: a fill's way to the screen renders this for every fill.
    fills = Fill.objects.filter(bot=bot).order_by("-time").values_list("time", "side", "price")[:CHART_FILLS]
    data = {
        "grid": lines,
        "orders": [
            {"side": side, "price": plain(price)} for side, price in orders.values_list("side", "price")
        ],
        "fills": [
            {"time": int(at.timestamp()), "side": side, "price": plain(price)}
            for at, side, price in reversed(fills)
        ],
        "take_profit": plain(config.take_profit_price) if config.take_profit_price else None,
        "stop_loss": plain(config.stop_loss_price) if config.stop_loss_price else None,
    }
    return json.dumps(data)


def page_context(bot: Bot, tab: str) -> dict[str, Any]:
    instrument = _instrument(bot)
    return {
        **header_context(bot, instrument),
        **tab_context(bot, tab),
        "chart_json": chart_data(bot, instrument),
    }


def _tab_from(value: str | None) -> str:
    return value if value in TABS else DEFAULT_TAB


# Pages and fragments ----------------------------------------------------------


@login_required
def bot_detail(request: HttpRequest, pk: int) -> HttpResponse:
    bot = get_object_or_404(_shown_bots(_user(request)), pk=pk)
    tab = _tab_from(request.GET.get("tab"))
    return render(request, TEMPLATE, page_context(bot, tab))


@login_required
def bot_tab(request: HttpRequest, pk: int, tab: str) -> HttpResponse:
    """One tab as a fragment for htmx; without htmx, the whole page showing that tab."""
    bot = get_object_or_404(_shown_bots(_user(request)), pk=pk)
    tab = _tab_from(tab)
    if not request.headers.get("HX-Request"):
        return redirect(f"{reverse('bot_detail', args=[bot.pk])}?tab={tab}")
    return render(
        request, f"{TEMPLATE}#tab", {**base_context(bot, _instrument(bot)), **tab_context(bot, tab)}
    )


@login_required
def bot_candles(request: HttpRequest, pk: int) -> JsonResponse:
    """Recent candles from the bot's venue, cached briefly so reloads do not hammer its API."""
    bot = _own_bot(_user(request), pk)
    interval = request.GET.get("interval", "5m")
    width = CANDLE_INTERVALS.get(interval)
    if width is None:
        choices = ", ".join(CANDLE_INTERVALS)
        return JsonResponse({"error": f"Unknown interval {interval!r}; use one of {choices}."}, status=400)
    try:
        found = recent_candles(
            bot.exchange_account,
            bot.symbol,
            interval,
            width * CANDLES_SHOWN,
            cache_seconds=CANDLE_CACHE_SECONDS,
        )
    except ExchangeError as exc:
        return JsonResponse({"error": f"The exchange did not send candles: {exc.message}"}, status=502)
    candles = candle_points(found)
    return JsonResponse({"symbol": bot.symbol, "interval": interval, "candles": candles})


# Actions: thin, each one a bots.actions call ----------------------------------


def _act(request: HttpRequest, pk: int, act: Any, done: str) -> HttpResponse:
    bot = _own_bot(_user(request), pk)
    try:
        act(bot)
    except actions.InvalidTransition as exc:
        messages.error(request, str(exc))
    else:
        messages.success(request, done.format(name=bot.name))
    return redirect("bot_detail", pk=bot.pk)


@login_required
@require_POST
def bot_start(request: HttpRequest, pk: int) -> HttpResponse:
    return _act(request, pk, actions.do_start_bot, "“{name}” is starting.")


@login_required
@require_POST
def bot_stop(request: HttpRequest, pk: int) -> HttpResponse:
    sell = request.POST.get("sell_base") == "on"
    done = "“{name}” is stopping" + (" and selling its base." if sell else "; it keeps its base.")
    return _act(request, pk, lambda bot: actions.do_stop_bot(bot, sell_base=sell), done)


@login_required
@require_POST
def bot_emergency_stop(request: HttpRequest, pk: int) -> HttpResponse:
    sell = request.POST.get("sell_base") == "on"
    return _act(
        request,
        pk,
        lambda bot: actions.do_emergency_stop(bot, sell_base=sell),
        "Emergency stop: “{name}” is cancelling every order now.",
    )


@login_required
@require_POST
def bot_clone(request: HttpRequest, pk: int) -> HttpResponse:
    bot = _own_bot(_user(request), pk)
    try:
        wizard = reverse("bot_create")
    except NoReverseMatch:
        wizard = "/bots/new/"
    return redirect(f"{wizard}?{urlencode({'clone': bot.pk})}")


# Live -----------------------------------------------------------------------


def live_fragments(user: User, bot_id: int, event: dict[str, Any]) -> str:
    """The fragments `event` changed, each carrying `hx-swap-oob`, for the bot page's websocket.

    `event["kinds"]` lists every kind in a coalesced burst ("connect" on every (re)connect,
    "tab" when the page switched tabs); `event["tab"]` is the tab the page shows (None until
    the page said); `event["csrf_cookie"]` is the socket's CSRF cookie, so re-rendered forms
    post like the first render's. An empty string when the user may not see the bot (any more).
    """
    bot = _shown_bots(user).filter(pk=bot_id).first()
    if bot is None:
        return ""
    kinds = set(event.get("kinds") or [event.get("kind")])
    tab = event.get("tab")
    instrument = _instrument(bot)
    context: dict[str, Any] = {"oob": True, "csrf_token": form_token(event.get("csrf_cookie"))}
    parts = []
    with timezone.override(_zone(user)):
        header = {**context, **header_context(bot, instrument)} if kinds & HEADER_OR_ACTION_KINDS else {}
        if kinds & HEADER_KINDS:
            parts.append(render_to_string(f"{TEMPLATE}#header", header))
        if kinds & ACTION_KINDS:
            parts.append(render_to_string(f"{TEMPLATE}#actions", header))
        if kinds & CHART_KINDS:
            parts.append(
                render_to_string(
                    f"{TEMPLATE}#chart-data", {**context, "chart_json": chart_data(bot, instrument)}
                )
            )
        if tab in TABS and kinds & TAB_KINDS:
            parts.append(
                render_to_string(
                    f"{TEMPLATE}#tab", {**context, **base_context(bot, instrument), **tab_context(bot, tab)}
                )
            )
    return "".join(parts)


def _zone(user: User) -> tzinfo:
    try:
        return zoneinfo.ZoneInfo(user.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return timezone.get_default_timezone()


def form_token(cookie: str | None) -> str:
    """A masked form token for the CSRF secret the browser already holds in its cookie."""
    if not cookie:
        return ""
    request = HttpRequest()
    request.META["CSRF_COOKIE"] = cookie
    return get_token(request)
