"""The price alerts page: the trader's alerts, a form to add one, delete and re-arm."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from accounts.models import User
from exchanges.base import ExchangeError
from notifications import alerts
from notifications.alerts_forms import PriceAlertForm
from notifications.models import PriceAlert

TEMPLATE = "notifications/alerts.html"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


@login_required
def price_alerts(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = PriceAlertForm(request.POST or None, user=user)
    if request.method == "POST":
        if form.is_valid():
            alert = alerts.do_create_alert(user, form.values(), current_price=form.current_price)
            if alert.fired_at:
                messages.success(request, f"Alert {alerts.describe(alert)} created, and fired at once.")
            else:
                messages.success(request, f"Alert {alerts.describe(alert)} created.")
            return HttpResponseRedirect(reverse("price_alerts"))
        status = 400
    else:
        status = 200
    context = {
        "form": form,
        "alerts": PriceAlert.objects.owned_by(user).select_related("exchange_account"),
        "has_accounts": form.fields["exchange_account"].queryset.exists(),  # type: ignore[attr-defined]
    }
    return render(request, TEMPLATE, context, status=status)


def _owned(request: HttpRequest, pk: int) -> PriceAlert:
    return get_object_or_404(PriceAlert.objects.owned_by(_user(request)), pk=pk)


@login_required
@require_POST
def price_alert_delete(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _owned(request, pk)
    alerts.do_delete_alert(alert)
    messages.success(request, f"Alert {alerts.describe(alert)} deleted.")
    return HttpResponseRedirect(reverse("price_alerts"))


@login_required
@require_POST
def price_alert_rearm(request: HttpRequest, pk: int) -> HttpResponse:
    alert = alerts.do_rearm_alert(_owned(request, pk))
    try:
        met = alert.is_met(alerts.price_of(alert.exchange_account, alert.symbol))
    except ExchangeError:
        met = False  # no price now: the next check decides
    note = " The price already meets it: it fires at the next check." if met else ""
    messages.success(request, f"Alert {alerts.describe(alert)} re-armed.{note}")
    return HttpResponseRedirect(reverse("price_alerts"))
