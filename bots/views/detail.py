"""A bot's detail page: its state, PnL, chart and tabs, the buttons that run it, and the
fragments its websocket swaps in (`live_fragments`, called by bots.consumers.BotConsumer)."""

from __future__ import annotations

import functools
import json
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import tzinfo
from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.db import connection
from django.db.models import F, QuerySet
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import SafeString
from django.views.decorators.http import require_POST

from accounts.models import User
from billing.entitlements import PlanLimitReached
from billing.pages import refuse
from bots import actions
from bots.deals import DealView
from bots.engine import unconfirmed_cancels
from bots.forms import venue_message
from bots.futures_position import LivePosition, NotFutures, check_futures, live_position
from bots.futures_previews import check_futures_preview
from bots.models import Bot, BotEvent, BotEventKind, BotStatus
from bots.rows import CompiledRows, from_row
from bots.strategies import dca, futures_grid, grid
from bots.strategies.base import ConfigError
from bots.templatetags.times import local_time
from bots.views import stop_sale
from bots.views.charts import candle_points
from exchanges.base import CANDLE_INTERVALS, ExchangeError, Instrument
from exchanges.instruments import INSTRUMENT_CACHE_SECONDS, INSTRUMENT_SHAPE, instrument_for, recent_candles
from exchanges.models import ExchangeAccount, ExchangeName
from exchanges.paper import instruments as paper_instruments
from exchanges.registry import exchange_for_account
from risk.checks import RiskLimitReached
from trading.ledger import LedgerSummary
from trading.models import LIVE_STATUSES, Fill, Order, OrderPurpose, OrderStatus
from trading.numbers import exact
from trading.pnl import bot_pnl, mark_price
from trading.templatetags.money import format_amount

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


def _shown_bot(user: User, pk: int) -> Bot | None:
    """`_shown_bots(user).filter(pk=pk).first()`: None for another trader's bot. On PostgreSQL
    from SQL written once, as the engine loads a bot: building and compiling the queryset cost
    more than running it, and every live event on the page reads its bot."""
    if connection.vendor != "postgresql":
        return _shown_bots(user).filter(pk=pk).first()
    with connection.cursor() as cursor:
        cursor.execute(_bot_sql(), [pk, user.pk])
        row = cursor.fetchone()
    if row is None:
        return None
    bot_fields, account_fields = _bot_fields(), ExchangeAccount._meta.concrete_fields
    bot = from_row(Bot, bot_fields, row[: len(bot_fields)])
    bot.exchange_account = from_row(ExchangeAccount, account_fields, row[len(bot_fields) :])
    return bot


def _bot_fields() -> list[Any]:
    return [field for field in Bot._meta.concrete_fields if field.name != "state"]


@functools.cache
def _bot_sql() -> str:
    bot = ", ".join(f'bot."{field.column}"' for field in _bot_fields())
    account = ", ".join(f'account."{field.column}"' for field in ExchangeAccount._meta.concrete_fields)
    return f"""
        SELECT {bot}, {account}
        FROM {Bot._meta.db_table} bot
        JOIN {ExchangeAccount._meta.db_table} account ON account.id = bot.exchange_account_id
        WHERE bot.id = %s AND bot.owner_id = %s
    """  # noqa: S608


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
        # One short try: the page shows without it, and a stop's page must not wait on a gone venue.
        if bot.strategy == futures_grid.NAME:
            return _perpetual(bot.exchange_account, bot.symbol)
        return instrument_for(bot.exchange_account, bot.symbol, fail_fast=True)
    except ExchangeError:
        return None


def _perpetual(account: ExchangeAccount, symbol: str) -> Instrument:
    """A futures bot's contract: its tick and lot steps, not the spot pair's, cached as the spot
    pair's are (exchanges.instruments)."""
    if account.exchange == ExchangeName.PAPER:
        return paper_instruments.linear_instrument_for(symbol)
    key = f"perpetual:{INSTRUMENT_SHAPE}:{account.pk}:{symbol}"
    found = cache.get(key)
    if isinstance(found, Instrument):
        return found
    instrument = exchange_for_account(account, fail_fast=True).perpetual_instrument(symbol)
    cache.set(key, instrument, INSTRUMENT_CACHE_SECONDS)
    return instrument


def base_context(bot: Bot, instrument: Instrument | None) -> dict[str, Any]:
    return {"bot": bot, "precision": Precision.of(instrument, bot)}


def header_context(bot: Bot, instrument: Instrument | None) -> dict[str, Any]:
    mark = mark_price(bot)
    summary: LedgerSummary | None = bot_pnl(bot, mark) if mark is not None else None
    return {
        **base_context(bot, instrument),
        "is_futures": bot.strategy == futures_grid.NAME,
        "config": bot.strategy_config,
        "deal": dca_deal(bot),
        "summary": summary,
        "mark": mark,
        "can_start": bot.status in STARTABLE,
        "can_stop": bot.status in actions.STOPPABLE,
        "max_restarts": actions.MAX_AUTO_RESTARTS,
        "may_be_open": unconfirmed_cancels(bot.pk),
    }


def position_context(bot: Bot, summary: LedgerSummary | None) -> dict[str, Any]:
    """The futures panel: the venue's position now, or why it cannot be shown (the page still
    renders with the venue down). `summary` is the header's, so both show one funding figure."""
    position: LivePosition | None = None
    error = ""
    try:
        position = live_position(bot, fail_fast=True, summary=summary)
    except ExchangeError as exc:
        error = exc.message or "The exchange did not answer."
    return {"position": position, "position_error": error}


# The tabs' rows, with what each cell shows worked out in Python, once: a fill re-renders the
# open tab for every page showing the bot, and the template's lookups and filters cost many
# times more than these few lines (as the dashboard's BotLine). Labels as get_FOO_display.
SIDE_LABELS = dict(Order._meta.get_field("side").flatchoices)
STATUS_LABELS = dict(OrderStatus.choices)
PURPOSE_LABELS = dict(OrderPurpose.choices)
EVENT_LABELS = dict(BotEventKind.choices)
TIME_SHOWN = "j M H:i:s"
ORDER_COLUMNS = (
    "client_order_id",
    "side",
    "purpose",
    "price",
    "quantity",
    "filled_quantity",
    "status",
    "created_at",
    "updated_at",
    "reject_reason",
    "reduce_only",
)


@dataclass(frozen=True)
class OrderLine:
    client_order_id: str
    side: str
    side_label: str
    purpose_label: str  # empty for a grid order, which shows no badge
    reduce_only: bool  # a futures order that may only shrink the position
    price: str
    quantity: str
    filled: str
    status: str
    status_label: str
    placed: SafeString | str
    updated: SafeString | str
    reject_reason: str


@dataclass(frozen=True)
class FillLine:
    trade_id: str
    time: SafeString | str
    side: str
    side_label: str
    price: str
    quantity: str
    value: str
    fee: str
    fee_asset: str


@dataclass(frozen=True)
class EventLine:
    kind: str
    kind_label: str
    created: SafeString | str
    message: str


def _order_line(row: Sequence[Any], precision: Precision, *, live: bool) -> OrderLine:
    client_order_id, side, purpose, price, quantity, filled, status, created, updated, reason, reduce_only = (
        row
    )
    return OrderLine(
        client_order_id=client_order_id,
        side=side,
        side_label=SIDE_LABELS.get(side, side),
        purpose_label=PURPOSE_LABELS.get(purpose, purpose) if purpose != OrderPurpose.GRID else "",
        reduce_only=reduce_only,
        price=format_amount(price, precision.price) if price else "Market",
        quantity=format_amount(quantity, precision.quantity),
        filled=format_amount(filled, precision.quantity) if live else "",
        status=status,
        status_label=STATUS_LABELS.get(status, status),
        placed=local_time(created, TIME_SHOWN) if live else "",
        updated="" if live else local_time(updated, TIME_SHOWN),
        reject_reason=reason,
    )


def _live_orders(bot_id: int) -> QuerySet[Any, tuple[Any, ...]]:
    return (
        Order.objects.filter(bot_id=bot_id, status__in=LIVE_STATUSES)
        .order_by("-price", "-id")
        .values_list(*ORDER_COLUMNS)[:ROWS_PER_TAB]
    )


def _ended_orders(bot_id: int) -> QuerySet[Any, tuple[Any, ...]]:
    return (
        Order.objects.filter(bot_id=bot_id, status__in=ENDED_STATUSES)
        .order_by("-updated_at", "-id")
        .values_list(*ORDER_COLUMNS)[:ROWS_PER_TAB]
    )


def _fills(bot_id: int) -> QuerySet[Any, tuple[Any, ...]]:
    return (
        Fill.objects.filter(bot_id=bot_id)
        .annotate(value=F("price") * F("quantity"))
        .order_by("-time", "-id")
        .values_list("trade_id", "time", "side", "price", "quantity", "value", "fee", "fee_asset")[
            :ROWS_PER_TAB
        ]
    )


def _events(bot_id: int) -> QuerySet[Any, tuple[Any, ...]]:
    return BotEvent.objects.filter(bot_id=bot_id).values_list("kind", "created_at", "message")[:ROWS_PER_TAB]


def tab_rows(bot: Bot, tab: str, precision: Precision) -> list[Any]:
    if tab == "orders":
        return [_order_line(row, precision, live=True) for row in _fetch(_live_orders, bot.pk)]
    if tab == "problems":
        return [_order_line(row, precision, live=False) for row in _fetch(_ended_orders, bot.pk)]
    if tab == "trades":
        return [
            FillLine(
                trade_id=trade_id,
                time=local_time(at, TIME_SHOWN),
                side=side,
                side_label=SIDE_LABELS.get(side, side),
                price=format_amount(price, precision.price),
                quantity=format_amount(quantity, precision.quantity),
                value=format_amount(value, "0.01"),
                fee=format_amount(fee, "0.00000001"),
                fee_asset=fee_asset,
            )
            for trade_id, at, side, price, quantity, value, fee, fee_asset in _fetch(_fills, bot.pk)
        ]
    return [
        EventLine(
            kind=kind,
            kind_label=EVENT_LABELS.get(kind, kind),
            created=local_time(at, TIME_SHOWN),
            message=message,
        )
        for kind, at, message in _fetch(_events, bot.pk)
    ]


def tab_counts(bot_id: int) -> dict[str, int]:
    """The tabs' counts in one statement: live orders, ended orders, fills."""
    with connection.cursor() as cursor:
        cursor.execute(_counts_sql(), [bot_id, bot_id])
        orders, problems, trades = cursor.fetchone()
    # COUNT(CASE ...) counts nothing as 0 on both databases; SUM would give NULL.
    return {"orders": orders, "problems": problems, "trades": trades}


@functools.cache
def _counts_sql() -> str:
    def listed(statuses: Sequence[str]) -> str:
        return ", ".join(f"'{status}'" for status in statuses)  # the choices' own constants

    return f"""
        SELECT COUNT(CASE WHEN status IN ({listed(LIVE_STATUSES)}) THEN 1 END),
            COUNT(CASE WHEN status IN ({listed(ENDED_STATUSES)}) THEN 1 END),
            (SELECT COUNT(*) FROM {Fill._meta.db_table} WHERE bot_id = %s)
        FROM {Order._meta.db_table} WHERE bot_id = %s
    """  # noqa: S608


def tab_context(bot: Bot, tab: str, precision: Precision) -> dict[str, Any]:
    counts: dict[str, int | None] = {**tab_counts(bot.pk)}
    page = reverse("bot_detail", args=[bot.pk])
    return {
        "tab": tab,
        "rows": tab_rows(bot, tab, precision),
        "tab_links": [
            {
                "key": key,
                "label": label,
                "count": counts.get(key),
                "page": f"{page}?tab={key}",
                "fragment": reverse("bot_tab", args=[bot.pk, key]),
            }
            for key, label in TABS.items()
        ],
    }


def dca_deal(bot: Bot) -> DealView | None:
    """A DCA bot's current deal and past deals, from its state; None for other strategies."""
    if bot.strategy != dca.DCA.name:
        return None
    config: dca.DcaConfig = bot.strategy_config
    state = dca.state_from_json(bot.state) if bot.state else None
    return DealView.of(config, state)


def chart_data(bot: Bot, instrument: Instrument | None, mark: Decimal | None = None) -> str:
    """What the chart draws over the candles, as JSON with decimal strings (display only). The
    current price is the header's (`mark`, read here when not given), so the two agree."""
    mark = mark if mark is not None else mark_price(bot)
    marks = _chart_marks_sql(bot.pk) if connection.vendor == "postgresql" else None
    orders, fills = marks if marks is not None else _chart_marks(bot.pk)
    if bot.strategy == dca.DCA.name:
        lines, take_profit, stop_loss, bounds = _dca_chart(bot, mark)
    else:
        config = bot.strategy_config if bot.strategy == futures_grid.NAME else bot.grid_config
        lines = [exact(p) for p in _grid_lines(config, instrument)] if instrument is not None else []
        take_profit = exact(config.take_profit_price) if config.take_profit_price else None
        stop_loss = exact(config.stop_loss_price) if config.stop_loss_price else None
        bounds = {
            "lower": exact(config.lower_price),
            "upper": exact(config.upper_price),
            "price": exact(mark) if mark is not None else None,
        }
    # json.dumps's own layout, with the two long arrays already written out.
    return (
        f'{{"grid": {json.dumps(lines)}, "orders": {orders}, "fills": {fills}, '
        f'"take_profit": {json.dumps(take_profit)}, "stop_loss": {json.dumps(stop_loss)}, '
        f"{json.dumps(bounds)[1:-1]}}}"
    )


def _grid_lines(
    config: grid.GridConfig | futures_grid.FuturesGridConfig, instrument: Instrument
) -> tuple[Decimal, ...]:
    if isinstance(config, futures_grid.FuturesGridConfig):
        return futures_grid.grid_lines(config, instrument)
    return grid.grid_lines(config, instrument)


def _dca_chart(
    bot: Bot, mark: Decimal | None
) -> tuple[list[str], str | None, str | None, dict[str, str | None]]:
    """A deal's lines: its resting orders' prices and the take-profit line. The farthest safety
    order is the one bound drawn (a long deal's below the price, a short's above), labelled as
    what it is, so the chart frames the deal and never speaks of a grid's range."""
    deal = dca_deal(bot)
    prices = [price for price in (deal.order_prices if deal else ()) if price]
    take_profit = deal.take_profit_price if deal else None
    safety = [price for price in prices if price != take_profit]
    short = bot.config.get("direction") == "short"
    farthest = (max(safety) if short else min(safety)) if safety else None
    bounds = {
        "lower": None if short or farthest is None else exact(farthest),
        "upper": exact(farthest) if short and farthest is not None else None,
        "bound_label": "Last safety",
        "price": exact(mark) if mark is not None else None,
    }
    return [exact(p) for p in prices], exact(take_profit) if take_profit else None, None, bounds


def _chart_orders(bot_id: int) -> QuerySet[Any, tuple[Any, ...]]:
    return Order.objects.filter(bot_id=bot_id, status__in=LIVE_STATUSES, price__isnull=False).values_list(
        "side", "price"
    )


def _chart_fills(bot_id: int) -> QuerySet[Any, tuple[Any, ...]]:
    fills = Fill.objects.filter(bot_id=bot_id).order_by("-time", "-id")
    return fills.values_list("time", "side", "price")[:CHART_FILLS]


def _chart_marks(bot_id: int) -> tuple[str, str]:
    """The open orders and the latest fills as JSON arrays, through the ORM (any database)."""
    orders = [{"side": side, "price": exact(price)} for side, price in _chart_orders(bot_id)]
    fills = [
        {"time": int(at.timestamp()), "side": side, "price": exact(price)}
        for at, side, price in reversed(list(_chart_fills(bot_id)))
    ]
    return json.dumps(orders), json.dumps(fills)


def _chart_marks_sql(bot_id: int) -> tuple[str, str] | None:
    """`_chart_marks`, written by PostgreSQL: decoding 200 rows of times and decimals only to
    write them out again was most of the chart's cost. None when a price has more significant
    digits than Python's decimal context keeps (28): `plain` rounds those, trim_scale does not."""
    with connection.cursor() as cursor:
        cursor.execute(_chart_sql(), [bot_id, *LIVE_STATUSES, bot_id, CHART_FILLS])
        orders, orders_wide, fills, fills_wide = cursor.fetchone()
    if orders_wide or fills_wide:
        return None
    return orders, fills


# Whether a price written by trim_scale has more than 28 significant digits ("0.000120" has
# 2; "30000" counts its zeros: an overcount only sends such a price down the portable path).
_WIDE = "length(replace(ltrim(trim_scale({0})::text, '0.'), '.', '')) > 28"
# `exact(price)` is trim_scale(price)::text for prices of at most 28 significant digits; a
# side is "buy" or "sell", which to_json quotes as json.dumps does; int(time.timestamp())
# is the epoch's whole seconds.
_ORDER_JSON = (
    """'{"side": ' || to_json(o.side)::text || ', "price": "' || trim_scale(o.price)::text || '"}'"""
)
_FILL_JSON = (
    """'{"time": ' || floor(extract(epoch FROM f.time))::bigint::text || ', "side": ' """
    """|| to_json(f.side)::text || ', "price": "' || trim_scale(f.price)::text || '"}'"""
)


@functools.cache
def _chart_sql() -> str:
    order, fill = Order._meta.db_table, Fill._meta.db_table
    return f"""
        SELECT '[' || COALESCE(o.marks, '') || ']', o.wide, '[' || COALESCE(f.marks, '') || ']', f.wide
        FROM (
            SELECT string_agg({_ORDER_JSON}, ', ') AS marks, bool_or({_WIDE.format("o.price")}) AS wide
            FROM {order} o
            WHERE o.bot_id = %s AND o.price IS NOT NULL AND o.status IN (%s, %s, %s)
        ) o, (
            SELECT string_agg({_FILL_JSON}, ', ' ORDER BY f.time, f.id) AS marks,
                bool_or({_WIDE.format("f.price")}) AS wide
            FROM (
                SELECT id, time, side, price FROM {fill} WHERE bot_id = %s
                ORDER BY time DESC, id DESC LIMIT %s
            ) f
        ) f
    """  # noqa: S608


# Compiled reads ------------------------------------------------------------------

# A stand-in bot id while a query's SQL is compiled: no bot has it, so its place among the
# parameters is unmistakable.
_BOT_MARKER = -918_273_645
RowsQuery = Callable[[int], "QuerySet[Any, tuple[Any, ...]]"]


def _fetch(query: RowsQuery, bot_id: int) -> list[tuple[Any, ...]]:
    """`list(query(bot_id))`, compiled once per process (bots.rows.CompiledRows)."""
    return _compiled(query).rows(bot_id)


@functools.cache
def _compiled(query: RowsQuery) -> CompiledRows[RowsQuery]:
    return CompiledRows(query, _BOT_MARKER)


def start_risk(bot: Bot) -> str:
    """For a stopped futures bot, the liquidation-in-range sentence its Start must be consented
    to at today's mark; "" when none (or when the venue cannot say: the start itself checks)."""
    if bot.strategy != futures_grid.NAME or bot.status not in STARTABLE:
        return ""
    config = bot.strategy_config
    try:
        return actions.liquidation_risk(check_futures_preview(bot.exchange_account, config), config)
    except (ConfigError, ExchangeError):
        return ""


def page_context(bot: Bot, tab: str) -> dict[str, Any]:
    instrument = _instrument(bot)
    header = header_context(bot, instrument)
    return {
        **header,
        "start_risk": start_risk(bot),
        **(position_context(bot, header["summary"]) if header["is_futures"] else {}),
        **tab_context(bot, tab, Precision.of(instrument, bot)),
        "chart_json": chart_data(bot, instrument, header["mark"]),
    }


def _tab_from(value: str | None) -> str:
    return value if value in TABS else DEFAULT_TAB


# Pages and fragments ----------------------------------------------------------


@login_required
def bot_detail(request: HttpRequest, pk: int) -> HttpResponse:
    bot = _shown_bot(_user(request), pk)
    if bot is None:
        raise Http404("No Bot matches the given query.")
    tab = _tab_from(request.GET.get("tab"))
    return render(request, TEMPLATE, page_context(bot, tab))


@login_required
def bot_tab(request: HttpRequest, pk: int, tab: str) -> HttpResponse:
    """One tab as a fragment for htmx; without htmx, the whole page showing that tab."""
    bot = _shown_bot(_user(request), pk)
    if bot is None:
        raise Http404("No Bot matches the given query.")
    tab = _tab_from(tab)
    if not request.headers.get("HX-Request"):
        return redirect(f"{reverse('bot_detail', args=[bot.pk])}?tab={tab}")
    base = base_context(bot, _instrument(bot))
    return render(request, f"{TEMPLATE}#tab", {**base, **tab_context(bot, tab, base["precision"])})


@login_required
def bot_position(request: HttpRequest, pk: int) -> HttpResponse:
    """A futures bot's position panel, which the page polls; without htmx, the whole page."""
    bot = _shown_bot(_user(request), pk)
    if bot is None:
        raise Http404("No Bot matches the given query.")
    try:
        check_futures(bot)
    except NotFutures as exc:
        raise Http404(str(exc)) from exc
    if not request.headers.get("HX-Request"):
        return redirect("bot_detail", pk=bot.pk)
    # The header's PnL comes along out of band: the mark moved the position's figures, and the
    # two must not disagree until the next fill re-renders the header.
    header = {**header_context(bot, _instrument(bot)), "oob": True}
    panel = render_to_string(
        f"{TEMPLATE}#position", {**header, **position_context(bot, header["summary"])}, request
    )
    return HttpResponse(panel + render_to_string(f"{TEMPLATE}#header", header, request))


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
    except PlanLimitReached as exc:
        refuse(request, exc)
    except RiskLimitReached as exc:
        messages.error(request, str(exc))
    except ConfigError as exc:
        messages.error(request, " ".join(message for found in exc.errors.values() for message in found))
    except ExchangeError as exc:
        messages.error(request, venue_message(bot.exchange_account, exc))
    else:
        messages.success(request, done.format(name=bot.name))
    return redirect("bot_detail", pk=bot.pk)


@login_required
@require_POST
def bot_start(request: HttpRequest, pk: int) -> HttpResponse:
    consent = request.POST.get("confirm_liquidation_risk") == "on"

    def start(bot: Bot) -> Bot:
        actions.check_start_bot(bot, confirm_liquidation_risk=consent)
        return actions.do_start_bot(bot)

    return _act(request, pk, start, "“{name}” is starting.")


@login_required
@require_POST
def bot_stop(request: HttpRequest, pk: int) -> HttpResponse:
    sell = request.POST.get("sell_base") == "on"
    if sell and not stop_sale.confirmed(request):
        bot = _own_bot(_user(request), pk)
        if bot.status in actions.STOPPABLE:
            return stop_sale.confirmation(request, bot)
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
    """A draft copy, whatever the original's status, opened for review on its edit page."""
    copy = actions.do_clone_bot(_own_bot(_user(request), pk))
    messages.success(request, f"“{copy.name}” is a draft copy: review its settings, save, then start it.")
    return redirect("bot_edit", pk=copy.pk)


# Live -----------------------------------------------------------------------


def live_fragments(user: User, bot_id: int, event: dict[str, Any]) -> str:
    """The fragments `event` changed, each carrying `hx-swap-oob`, for the bot page's websocket.

    `event["kinds"]` lists every kind in a coalesced burst ("connect" on every (re)connect,
    "tab" when the page switched tabs); `event["tab"]` is the tab the page shows (None until
    the page said); `event["csrf_cookie"]` is the socket's CSRF cookie, so re-rendered forms
    post like the first render's. An empty string when the user may not see the bot (any more).
    """
    bot = _shown_bot(user, bot_id)
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
            parts.append(render_to_string(f"{TEMPLATE}#actions", {**header, "start_risk": start_risk(bot)}))
        if kinds & CHART_KINDS:
            parts.append(
                render_to_string(
                    f"{TEMPLATE}#chart-data",
                    {**context, "chart_json": chart_data(bot, instrument, header.get("mark"))},
                )
            )
        if tab in TABS and kinds & TAB_KINDS:
            base = base_context(bot, instrument)
            parts.append(
                render_to_string(
                    f"{TEMPLATE}#tab", {**context, **base, **tab_context(bot, tab, base["precision"])}
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
