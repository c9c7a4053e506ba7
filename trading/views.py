"""Trade history and its CSV export."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, HttpRequest, HttpResponse, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from trading.history import (
    Cursor,
    FillFilterForm,
    csv_stream,
    csv_stream_async,
    page_of,
    user_bots,
    user_fills,
)

TEMPLATE = "trading/history.html"


def _filters(request: HttpRequest) -> tuple[FillFilterForm, dict[str, Any] | None]:
    """The bound filter form and its cleaned values, or None when the input is invalid.
    A bot id of someone else's bot is a 404, as for any other object of theirs."""
    user: User = request.user  # type: ignore[assignment]
    bots = list(user_bots(user))
    form = FillFilterForm(request.GET, bots=bots)
    if not form.is_valid():
        return form, None
    bot_id = form.cleaned_data.get("bot")
    if bot_id and bot_id not in {bot.pk for bot in bots}:
        raise Http404("No such bot.")
    return form, form.cleaned_data


def _filter_query(request: HttpRequest) -> str:
    """The filters alone, for page links and the export link."""
    query = request.GET.copy()
    for key in ("after", "before"):
        query.pop(key, None)
    return query.urlencode()


def _cursor(request: HttpRequest, name: str) -> Cursor | None:
    """The page link's cursor; a link that does not decode raises ValueError."""
    token = request.GET.get(name)
    return Cursor.decode(token) if token else None


@login_required
def trade_history(request: HttpRequest) -> HttpResponse:
    form, filters = _filters(request)
    # Problems with the filters or the page link are told inline, on this page only: a flash
    # message would outlive the page (a fragment never shows it) and greet the next one.
    context: dict[str, Any] = {
        "form": form,
        "filter_query": _filter_query(request),
        "page": None,
        "stale_page_link": False,
    }
    if filters is not None:
        user: User = request.user  # type: ignore[assignment]
        try:
            after, before = _cursor(request, "after"), _cursor(request, "before")
        except ValueError:
            after = before = None
            context["stale_page_link"] = True
        context["page"] = page_of(user, filters, after=after, before=before)
    template = f"{TEMPLATE}#results" if getattr(request, "htmx", False) else TEMPLATE
    return render(request, template, context)


@login_required
def trade_export(request: HttpRequest) -> HttpResponseBase:
    """Every fill matching the filters as CSV, streamed: 100,000 rows never sit in memory."""
    _, filters = _filters(request)
    if filters is None:
        # The history page shows what is wrong with them, beside the fields.
        return redirect(f"{reverse('trade_history')}?{_filter_query(request)}")
    fills = user_fills(request.user, filters)  # type: ignore[arg-type]
    zone = timezone.get_current_timezone()
    stream = csv_stream_async(fills, zone) if isinstance(request, ASGIRequest) else csv_stream(fills, zone)
    response = StreamingHttpResponse(stream, content_type="text/csv; charset=utf-8")
    stamp = timezone.localtime().strftime("%Y%m%d-%H%M")
    response["Content-Disposition"] = f'attachment; filename="gridwise-trades-{stamp}.csv"'
    response["Cache-Control"] = "no-store"
    return response
