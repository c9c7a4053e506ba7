"""Optimisation pages: ask for a parameter search, watch it run, read the ranked grids.

Requests go through `bots.backtests.actions` (check_optimisation, do_create_optimisation), the
functions the API's POST /api/v1/backtests/optimize/ calls, and every figure shown is the API's
representation (`OptimisationSerializer`), formatted for reading.
"""

from __future__ import annotations

from datetime import UTC
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.models import User
from bots.api.backtest_serializers import OptimisationSerializer
from bots.backtests import actions
from bots.backtests.forms import OBJECTIVES, OptimisationForm
from bots.backtests.models import UNFINISHED, Optimisation
from bots.views.detail import form_token
from trading.numbers import QUOTE_STEP
from trading.templatetags.money import format_amount, percent

LIST_TEMPLATE = "bots/optimisations.html"
DETAIL_TEMPLATE = "bots/optimisation_detail.html"
LISTED = 30
OBJECTIVE_LABELS = dict(OBJECTIVES)


def _owned(request: HttpRequest) -> Any:
    return Optimisation.objects.owned_by(request.user)


@login_required
def optimisations_page(request: HttpRequest) -> HttpResponse:
    """The form and the trader's past searches; submitting queues one and opens its page."""
    if request.method != "POST":
        form = OptimisationForm(initial=dict(request.GET.items()))
        return render(request, LIST_TEMPLATE, _list_context(request, form))
    form = OptimisationForm(request.POST)
    if form.is_valid():
        interval, start, end = form.window()
        try:
            plan = actions.check_optimisation(form.search(), interval, start, end)
        except actions.BacktestError as refusal:
            form.add_refusal(refusal)
        else:
            optimisation = actions.do_create_optimisation(request.user, plan)  # type: ignore[arg-type]
            return HttpResponseRedirect(reverse("optimisation_detail", args=[optimisation.pk]))
    return render(request, LIST_TEMPLATE, _list_context(request, form), status=400)


def _list_context(request: HttpRequest, form: OptimisationForm) -> dict[str, Any]:
    errors = form.errors.as_data() if form.is_bound else {}
    return {
        "form": form,
        "fields": {
            bound.name: (bound, [m for e in errors.get(bound.name, []) for m in e.messages]) for bound in form
        },
        "non_field_errors": [m for e in errors.get("__all__", []) for m in e.messages],
        "optimisations": _owned(request).order_by("-created_at")[:LISTED],
        "objectives": OBJECTIVE_LABELS,
    }


@login_required
def optimisation_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return render(request, DETAIL_TEMPLATE, detail_context(get_object_or_404(_owned(request), pk=pk)))


@login_required
def optimisation_status(request: HttpRequest, pk: int) -> HttpResponse:
    """The progress fragment the page polls when its socket is down; at the end, the whole page."""
    optimisation = get_object_or_404(_owned(request), pk=pk)
    if not request.htmx:  # type: ignore[attr-defined]
        return HttpResponseRedirect(reverse("optimisation_detail", args=[pk]))
    response = render(request, f"{DETAIL_TEMPLATE}#optimisation-status", detail_context(optimisation))
    if optimisation.status not in UNFINISHED:
        response["HX-Refresh"] = "true"
    return response


@login_required
@require_POST
def optimisation_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    optimisation = get_object_or_404(_owned(request), pk=pk)
    try:
        actions.do_cancel_optimisation(optimisation)
        messages.success(request, f"Optimisation {pk} is cancelled: its remaining runs are stopped.")
    except actions.BacktestFinished as exc:
        messages.error(request, str(exc))
    return HttpResponseRedirect(reverse("optimisation_detail", args=[pk]))


def live_fragments(user: User, run_id: int, event: dict[str, Any]) -> str:
    """The status fragment for the page's socket (`hx-swap-oob`), and the results once it ended."""
    optimisation = Optimisation.objects.owned_by(user).filter(pk=run_id).first()
    if optimisation is None:
        return ""
    context = {
        **detail_context(optimisation),
        "oob": True,
        "csrf_token": form_token(event.get("csrf_cookie")),
    }
    parts = [render_to_string(f"{DETAIL_TEMPLATE}#optimisation-status", context)]
    if optimisation.status not in UNFINISHED:
        parts.append(render_to_string(f"{DETAIL_TEMPLATE}#optimisation-results", context))
    return "".join(parts)


# Figures ----------------------------------------------------------------------------------------


def detail_context(optimisation: Optimisation) -> dict[str, Any]:
    body = dict(OptimisationSerializer(optimisation).data)
    results = body["results"] or {}
    step = _price_step(optimisation.symbol)
    rows = [
        _row(optimisation, body, ranked, place, step)
        for place, ranked in enumerate(results.get("ranked", []), 1)
    ]
    return {
        "optimisation": optimisation,
        "body": body,
        "unfinished": optimisation.status in UNFINISHED,
        "tried": optimisation.evaluated + optimisation.skipped,
        "objective": OBJECTIVE_LABELS.get(body["search"]["objective"], body["search"]["objective"]),
        "train_percent": int(Decimal(body["search"]["train_fraction"]) * 100),
        "test_percent": 100 - int(Decimal(body["search"]["train_fraction"]) * 100),
        "rows": rows,
        "price_step": step,
    }


def _price_step(symbol: str) -> Decimal:
    instrument = actions.instrument_for(symbol)
    return instrument.tick_size if instrument else QUOTE_STEP


def _row(
    optimisation: Optimisation, body: dict[str, Any], ranked: dict[str, Any], place: int, step: Decimal
) -> dict[str, Any]:
    return {
        "place": place,
        "candidate": ranked["candidate"],
        "lower_price": format_amount(ranked["lower_price"], step),
        "upper_price": format_amount(ranked["upper_price"], step),
        "grid_count": ranked["grid_count"],
        "spacing": ranked["spacing"],
        "direction": ranked["direction"],
        "train": score_cells(ranked["train"]),
        "report": score_cells(ranked["report"]) if ranked["report"] else None,
        "overfit": _overfit(ranked),
        "bot_query": _bot_query(optimisation, body, ranked),
        "backtest_query": _backtest_query(optimisation, body, ranked),
    }


def score_cells(score: dict[str, Any]) -> dict[str, str]:
    """A candidate's figures as the table shows them; "—" where the API has null."""
    ratio = score["sharpe"]
    over = score["return_over_drawdown"]
    return {
        "total_return": percent(score["total_return"]),
        "direction": _sign(score["total_return"]),
        "max_drawdown": format_amount(Decimal(score["max_drawdown"]) * 100, "0.01") + "%",
        "return_over_drawdown": format_amount(over, "0.01") if over is not None else "—",
        "sharpe": format_amount(ratio, "0.01") if ratio is not None else "—",
        "round_trips": format_amount(score["round_trips"], "1"),
    }


def _sign(value: str) -> str:
    number = Decimal(value)
    return "" if not number else ("up" if number > 0 else "down")


def _overfit(ranked: dict[str, Any]) -> bool:
    """It gained while optimised and lost on the part it never saw: the trader should know."""
    report = ranked["report"]
    return report is not None and Decimal(ranked["train"]["total_return"]) > 0 >= Decimal(
        report["total_return"]
    )


def _grid_values(body: dict[str, Any], ranked: dict[str, Any]) -> dict[str, str]:
    values = {
        "lower_price": ranked["lower_price"],
        "upper_price": ranked["upper_price"],
        "grid_count": str(ranked["grid_count"]),
        "spacing": ranked["spacing"],
        "direction": ranked["direction"],
        "investment": body["search"]["investment"],
    }
    if body["search"]["trigger_price"]:
        values["trigger_price"] = body["search"]["trigger_price"]
    return values


def _bot_query(optimisation: Optimisation, body: dict[str, Any], ranked: dict[str, Any]) -> str:
    return urlencode(
        {
            "name": f"{optimisation.symbol} grid (optimisation {optimisation.pk})",
            "symbol": optimisation.symbol,
            **_grid_values(body, ranked),
        }
    )


def _backtest_query(optimisation: Optimisation, body: dict[str, Any], ranked: dict[str, Any]) -> str:
    return urlencode(
        {
            "symbol": optimisation.symbol,
            "interval": optimisation.interval,
            "start": optimisation.start.astimezone(UTC).date().isoformat(),
            "end": optimisation.end.astimezone(UTC).date().isoformat(),
            **_grid_values(body, ranked),
        }
    )
