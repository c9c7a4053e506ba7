"""Backtest pages: ask for one, watch it run, read its results, compare several, make a bot of one.

Requests go through `bots.backtests.actions` (the API's checks), and every figure shown is the
API's representation of the backtest (`BacktestDetailSerializer`), formatted for reading.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.models import User
from billing.entitlements import PlanLimitReached
from billing.pages import refuse
from bots import codec
from bots.api.backtest_serializers import BacktestDetailSerializer, BacktestSerializer
from bots.backtests import actions
from bots.backtests.forms import DCA_FIELDS, FUTURES_FIELDS, STRATEGY_CHOICES, BacktestForm
from bots.backtests.models import UNFINISHED, Backtest, BacktestStatus
from bots.forms import initial_from_config
from bots.strategies import dca, futures_grid
from bots.views.detail import form_token
from config.wording import duration_text
from trading.numbers import QUOTE_STEP, as_decimal, exact
from trading.templatetags.money import format_amount, percent

LIST_TEMPLATE = "bots/backtests.html"
DETAIL_TEMPLATE = "bots/backtest_detail.html"
COMPARE_TEMPLATE = "bots/backtest_compare.html"
LISTED = 50
FILLS_PER_PAGE = 100
COMPARED = (2, 4)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _owned(request: HttpRequest) -> QuerySet[Backtest]:
    return Backtest.objects.owned_by(_user(request))


# Figures --------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    key: str
    label: str
    kind: str  # amount, percent (signed), share (a part of a whole), ratio, count or price


FIGURES = (
    Figure("total_pnl", "Total PnL", "amount"),
    Figure("total_return", "Total return", "percent"),
    Figure("apr", "APR", "percent"),
    Figure("buy_and_hold_return", "Buy and hold", "percent"),
    Figure("grid_profit", "Grid profit", "amount"),
    Figure("unrealized", "Unrealised PnL", "amount"),
    Figure("fees", "Fees", "amount"),
    Figure("max_drawdown.value", "Max drawdown", "amount"),
    Figure("max_drawdown.fraction", "Max drawdown (of peak)", "share"),
    Figure("max_floating_drawdown", "Max floating loss", "amount"),
    Figure("sharpe", "Sharpe", "ratio"),
    Figure("sortino", "Sortino", "ratio"),
    Figure("calmar", "Calmar", "ratio"),
    Figure("profit_factor", "Profit factor", "ratio"),
    Figure("round_trips", "Round trips", "count"),
    Figure("fills", "Fills", "count"),
    Figure("time_in_range", "Time in range", "share"),
    Figure("investment", "Investment", "amount"),
    Figure("equity", "Final equity", "amount"),
    Figure("first_price", "First price", "price"),
    Figure("last_price", "Last price", "price"),
)


def _value(metrics: dict[str, Any], key: str) -> Any:
    value: Any = metrics
    for part in key.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def formatted(figure: Figure, value: Any, price_step: Decimal) -> str:
    """A metric as the page shows it; "—" where it is undefined (no losses, no volatility)."""
    if value is None:
        return "—"
    if figure.kind == "percent":
        return percent(value)
    if figure.kind == "share":
        return format_amount(Decimal(str(value)) * 100, "0.01") + "%"
    if figure.kind == "ratio":
        return format_amount(value, "0.01")
    if figure.kind == "count":
        return format_amount(value, "1")
    if figure.kind == "price":
        return format_amount(value, price_step)
    return format_amount(value, QUOTE_STEP)


def _price_step(symbol: str) -> Decimal:
    instrument = actions.instrument_for(symbol)
    return instrument.tick_size if instrument else QUOTE_STEP


# A DCA run's realised profit is its deals'; a grid's range and round trips are not its.
DCA_LABELS = {"grid_profit": "Deal profit"}
NOT_DCA = ("time_in_range", "round_trips")


def figures_of(strategy: str) -> tuple[Figure, ...]:
    if strategy != dca.DCA.name:
        return FIGURES
    return tuple(
        Figure(figure.key, DCA_LABELS.get(figure.key, figure.label), figure.kind)
        for figure in FIGURES
        if figure.key not in NOT_DCA
    )


def figure_rows(
    metrics: dict[str, Any] | None, symbol: str, figures: tuple[Figure, ...] = FIGURES
) -> list[dict[str, Any]]:
    if metrics is None:
        return []
    step = _price_step(symbol)
    return [
        {
            "key": figure.key,
            "label": figure.label,
            "text": formatted(figure, _value(metrics, figure.key), step),
            "direction": _direction(figure, _value(metrics, figure.key)),
            "note": (metrics.get("notes") or {}).get(figure.key, "")
            if _value(metrics, figure.key) is None
            else "",
        }
        for figure in figures
    ]


DEAL_FIGURES = (
    Figure("deals.deals_closed", "Deals closed", "count"),
    Figure("deals.average_duration", "Average deal duration", "duration"),
    Figure("deals.max_duration", "Longest deal", "duration"),
    Figure("deals.max_safety_orders_used", "Most safety orders used", "count"),
    Figure("deals.max_floating_drawdown", "Deepest floating loss", "amount"),
)


def deal_rows(metrics: dict[str, Any] | None) -> list[dict[str, str]]:
    """A DCA run's deal figures as the page shows them, from the API's `metrics.deals`; the
    deal still open at the end, if any, last with its unrealised PnL."""
    if metrics is None or not metrics.get("deals"):
        return []
    rows = [
        {"key": figure.key, "label": figure.label, "text": deal_text(figure, _value(metrics, figure.key))}
        for figure in DEAL_FIGURES
    ]
    rows.append({"key": "deals.open_deal", "label": "Deal still open", "text": open_deal_text(metrics)})
    return rows


def deal_text(figure: Figure, value: Any) -> str:
    if figure.kind == "duration":
        return duration_text(value)
    return formatted(figure, value, QUOTE_STEP)


def open_deal_text(metrics: dict[str, Any]) -> str:
    open_deal = _value(metrics, "deals.open_deal")
    if open_deal is None:
        return "No"
    used = open_deal["safety_orders_used"]
    orders = "safety order" if used == 1 else "safety orders"
    pnl = format_amount(open_deal["unrealized"], QUOTE_STEP, signed=True)
    return f"Yes: unrealised PnL {pnl}, {used} {orders} used"


def _direction(figure: Figure, value: Any) -> str:
    number = as_decimal(value) if figure.key in ("total_pnl", "total_return", "unrealized") else None
    if number is None or number == 0:
        return ""
    return "up" if number > 0 else "down"


# Charts ---------------------------------------------------------------------------


def chart_data(body: dict[str, Any], backtest: Backtest) -> dict[str, Any] | None:
    """The equity curve, buy and hold of the same investment, the drawdown from the running peak,
    and the fills: decimal strings for drawing only."""
    metrics, points = body["metrics"], body["equity"]
    if metrics is None or not points:
        return None
    investment = Decimal(metrics["investment"])
    first_price = Decimal(metrics["first_price"])
    peak = Decimal(0)
    curve = []
    for point in points:
        equity = Decimal(point["equity"])
        peak = max(peak, equity)
        curve.append(
            {
                "time": _seconds(point["time"]),
                "equity": point["equity"],
                "price": point["price"],
                "hold": exact((investment * Decimal(point["price"]) / first_price).quantize(QUOTE_STEP)),
                "drawdown": exact(((equity - peak) / peak * 100).quantize(Decimal("0.01"))) if peak else "0",
            }
        )
    fills = [
        {"time": int(fill.time.timestamp()), "side": fill.side, "price": exact(fill.price)}
        for fill in backtest.fills.order_by("time", "pk")
    ]
    futures = metrics.get("futures") or {}
    liquidation = (
        {"time": _seconds(futures["liquidated_at"]), "price": futures["liquidation_price"]}
        if futures.get("liquidated_at")
        else None
    )
    return {
        "curve": curve,
        "fills": fills,
        "liquidation": liquidation,
        "step": exact(_price_step(backtest.symbol)),
    }


def _seconds(iso: str) -> int:
    return int(datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp())


# Pages ----------------------------------------------------------------------------


def _list_context(request: HttpRequest, form: BacktestForm) -> dict[str, Any]:
    errors = form.errors.as_data() if form.is_bound else {}
    unshown = ("__all__", *(bound.name for bound in form.hidden_fields()))
    return {
        "form": form,
        "strategy": form.strategy_name,
        "strategies": STRATEGY_CHOICES,
        "fields": {
            bound.name: (bound, [m for e in errors.get(bound.name, []) for m in e.messages]) for bound in form
        },
        "non_field_errors": [m for key in unshown for e in errors.get(key, []) for m in e.messages],
        "backtests": _owned(request).order_by("-created_at")[:LISTED],
        "compared": COMPARED,
    }


@login_required
def backtests_page(request: HttpRequest) -> HttpResponse:
    """The form, and the trader's past backtests; submitting queues one and opens its page.
    Choosing the strategy is a GET of the page with `strategy` (htmx swaps only the form, keeping
    what was typed)."""
    if request.method != "POST":
        initial = {key: value for key, value in request.GET.items() if key != "page"}
        context = _list_context(request, BacktestForm(initial=initial))
        if request.htmx:  # type: ignore[attr-defined]
            return render(request, f"{LIST_TEMPLATE}#backtest-form", context)
        return render(request, LIST_TEMPLATE, context)
    form = BacktestForm(request.POST)
    if form.is_valid():
        interval, start, end = form.window()
        try:
            plan = actions.check_backtest(form.config(), interval, start, end)
        except actions.BacktestError as refusal:
            form.add_refusal(refusal)
        else:
            try:
                backtest = actions.do_create_backtest(_user(request), plan)
            except PlanLimitReached as exc:
                refuse(request, exc)
                return render(request, LIST_TEMPLATE, _list_context(request, form), status=403)
            return HttpResponseRedirect(reverse("backtest_detail", args=[backtest.pk]))
    return render(request, LIST_TEMPLATE, _list_context(request, form), status=400)


def _detail_context(request: HttpRequest, backtest: Backtest) -> dict[str, Any]:
    return detail_context(backtest, request.GET.get("page"))


def detail_context(backtest: Backtest, page: str | None) -> dict[str, Any]:
    body = dict(BacktestDetailSerializer(backtest).data)
    fills = Paginator(backtest.fills.order_by("time", "pk"), FILLS_PER_PAGE).get_page(page)
    order_of = order_namer(backtest)
    return {
        "backtest": backtest,
        "body": body,
        "is_dca": backtest.strategy == dca.DCA.name,
        "is_futures": backtest.strategy == futures_grid.NAME,
        "futures": futures_block(body["metrics"]),
        "unfinished": backtest.status in UNFINISHED,
        "figures": figure_rows(body["metrics"], backtest.symbol, figures_of(backtest.strategy)),
        "deals": deal_rows(body["metrics"]),
        "stopped_early": _stopped_early(body["metrics"]),
        "chart": chart_data(body, backtest) if backtest.status == BacktestStatus.DONE else None,
        "fills": fills,
        "fill_rows": [(fill, order_of(fill.interval)) for fill in fills],
        "price_step": _price_step(backtest.symbol),
        "rerun_query": rerun_query(backtest),
    }


def futures_block(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    """A futures run's funding and liquidation as the page says them."""
    futures = (metrics or {}).get("futures")
    if not futures:
        return None
    liquidated_at = futures["liquidated_at"]
    return {
        **futures,
        "rate_percent": Decimal(futures["funding_rate_assumed"]) * 100,
        "liquidated_at": datetime.fromisoformat(liquidated_at.replace("Z", "+00:00"))
        if liquidated_at
        else None,
    }


def _stopped_early(metrics: dict[str, Any] | None) -> dict[str, Any] | None:
    stopped = (metrics or {}).get("stopped_early")
    if not stopped:
        return None
    return {**stopped, "time": datetime.fromisoformat(stopped["time"].replace("Z", "+00:00"))}


def order_namer(backtest: Backtest) -> Callable[[int | None], str]:
    """Names the order a fill belongs to: a grid's interval (or its start trade), a DCA deal's order."""
    if backtest.strategy != dca.DCA.name:
        return lambda slot: "start" if slot is None else str(slot)
    config = dca.config_from_json(backtest.config)
    names = {0: "Base order", config.tp_slot: "Take profit", config.sl_slot: "Stop loss"}
    return lambda slot: names.get(slot or 0, f"Safety order {slot}")


def rerun_query(backtest: Backtest) -> str:
    """The backtest's form values, for running it again with a change."""
    values = _rerun_values(backtest)
    values.update(
        symbol=backtest.symbol,
        interval=backtest.interval,
        start=backtest.start.astimezone(UTC).date().isoformat(),
        end=backtest.end.astimezone(UTC).date().isoformat(),
    )
    return urlencode(values)


def _form_value(value: Any) -> str:
    return exact(value) if isinstance(value, Decimal) else str(value)


def _rerun_values(backtest: Backtest) -> dict[str, Any]:
    if backtest.strategy == futures_grid.NAME:
        futures = futures_grid.config_from_json(backtest.config)
        values = {name: getattr(futures, name) for name in FUTURES_FIELDS}
        return {"strategy": futures_grid.NAME, **{name: _form_value(value) for name, value in values.items()}}
    if backtest.strategy == dca.DCA.name:
        config = dca.config_from_json(backtest.config)
        values = {name: getattr(config, name) for name in DCA_FIELDS}
        shown = {
            name: exact(value) if isinstance(value, Decimal) else str(value)
            for name, value in values.items()
            if value is not None
        }
        return {"strategy": dca.DCA.name, **shown}
    values = initial_from_config(None, "", codec.config_from_json(backtest.config))
    return {key: value for key, value in values.items() if key in BacktestForm.rerun_fields}


@login_required
def backtest_detail(request: HttpRequest, pk: int) -> HttpResponse:
    backtest = get_object_or_404(_owned(request), pk=pk)
    return render(request, DETAIL_TEMPLATE, _detail_context(request, backtest))


@login_required
def backtest_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment the page polls; once the run ends, the whole page loads its results."""
    backtest = get_object_or_404(_owned(request), pk=pk)
    if not request.htmx:  # type: ignore[attr-defined]
        return HttpResponseRedirect(reverse("backtest_detail", args=[pk]))
    response = render(request, f"{DETAIL_TEMPLATE}#backtest-status", {"backtest": backtest})
    if backtest.status not in UNFINISHED:
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def backtest_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    backtest = get_object_or_404(_owned(request), pk=pk)
    try:
        actions.do_cancel_backtest(backtest)
        messages.success(request, f"Backtest {pk} is cancelled.")
    except actions.BacktestFinished as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(reverse("backtest_detail", args=[pk]))


@login_required
def backtest_compare(request: HttpRequest) -> HttpResponse:
    """2 to 4 of the trader's backtests, metrics side by side; another's id is a 404."""
    try:
        ids = list(dict.fromkeys(int(raw) for raw in request.GET.getlist("ids")))
    except ValueError:
        ids = []
    low, high = COMPARED
    if not low <= len(ids) <= high:
        messages.error(request, f"Tick {low} to {high} backtests to compare (you ticked {len(ids)}).")
        return HttpResponseRedirect(reverse("backtests"))
    found = {backtest.pk: backtest for backtest in _owned(request).filter(pk__in=ids)}
    backtests = [get_object_or_404(_owned(request), pk=pk) if pk not in found else found[pk] for pk in ids]
    columns = []
    for backtest in backtests:
        body = dict(BacktestSerializer(backtest).data)
        figures = figure_rows(body["metrics"], backtest.symbol) + deal_rows(body["metrics"])
        columns.append({"backtest": backtest, "body": body, "figures": {row["key"]: row for row in figures}})
    any_dca = any(backtest.strategy == dca.DCA.name for backtest in backtests)
    compared = [*FIGURES, *(DEAL_FIGURES if any_dca else ())]
    rows = [
        {
            "label": _compare_label(figure, any_dca),
            "key": figure.key,
            "cells": [_cell(c, figure) for c in columns],
        }
        for figure in compared
    ]
    if any_dca:
        cells = [_cell(column, Figure("deals.open_deal", "", "")) for column in columns]
        rows.append({"label": "Deal still open", "key": "deals.open_deal", "cells": cells})
    return render(request, COMPARE_TEMPLATE, {"columns": columns, "rows": rows})


def _compare_label(figure: Figure, any_dca: bool) -> str:
    """A row both strategies share, named for both when a DCA run sits beside a grid."""
    if any_dca and figure.key == "grid_profit":
        return "Grid / deal profit"
    return figure.label


# Live -----------------------------------------------------------------------------


def live_fragments(user: User, kind: str, run_id: int, event: dict[str, Any]) -> str:
    """A run page's status fragment for its socket, with `hx-swap-oob`; once the run has ended,
    its results too. Empty when the run is not the user's (any more)."""
    from bots.views import optimisations

    if kind == "optimisation":
        return optimisations.live_fragments(user, run_id, event)
    backtest = Backtest.objects.owned_by(user).filter(pk=run_id).first()
    if backtest is None:
        return ""
    context = {
        **detail_context(backtest, None),
        "oob": True,
        "csrf_token": form_token(event.get("csrf_cookie")),
    }
    parts = [render_to_string(f"{DETAIL_TEMPLATE}#backtest-status", context)]
    if backtest.status not in UNFINISHED:
        parts.append(render_to_string(f"{DETAIL_TEMPLATE}#backtest-results", context))
    return "".join(parts)


def _cell(column: dict[str, Any], figure: Figure) -> str:
    """A figure of one backtest; "—" where it has none (a grid's deals, a DCA run's range)."""
    if column["backtest"].strategy == dca.DCA.name and figure.key in NOT_DCA:
        return "—"
    row = column["figures"].get(figure.key)
    return str(row["text"]) if row else "—"
