"""The Risk page: the rules, today's loss against the limit, and the kill switch."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import User
from bots import actions as bot_actions
from bots.models import Bot
from exchanges.base import ExchangeError
from risk import actions
from risk.forms import KillSwitchForm, RiskRulesForm


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _page(request: HttpRequest, form: RiskRulesForm, kill: KillSwitchForm, status: int = 200) -> HttpResponse:
    user = _user(request)
    rules = actions.rules_for(user)
    try:
        losses: list[actions.QuoteLoss] | None = actions.todays_losses(user)
    except ExchangeError:
        losses = None  # a venue not answering: the page still shows and saves the rules
    limit = rules.daily_loss_limit
    context: dict[str, Any] = {
        # The meter turns amber past half the limit and red past four fifths.
        "meter_low": limit / 2 if limit else None,
        "meter_high": limit * Decimal("0.8") if limit else None,
        "form": form,
        "kill": kill,
        "rules": rules,
        "staff_max_leverage": rules.staff_max_leverage,
        "losses": losses,
        "tripped_today": rules.tripped_on == actions.local_today(user, timezone.now()),
        "stoppable": Bot.objects.owned_by(user).filter(status__in=bot_actions.STOPPABLE).count(),
    }
    return render(request, "risk/risk.html", context, status=status)


@login_required
def risk(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    form = RiskRulesForm(request.POST or None, instance=actions.rules_for(user))
    if request.method == "POST":
        if form.is_valid():
            try:
                actions.do_save_rules(user, form.values(), request=request)
            except actions.LeverageCapTooHigh as exc:
                form.add_error("max_leverage", str(exc))
                return _page(request, form, KillSwitchForm(), status=400)
            messages.success(request, "Risk rules saved.")
            return HttpResponseRedirect(reverse("risk"))
        return _page(request, form, KillSwitchForm(), status=400)
    return _page(request, form, KillSwitchForm())


@login_required
@require_POST
def kill_switch(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    kill = KillSwitchForm(request.POST)
    if not kill.is_valid():
        return _page(request, RiskRulesForm(instance=actions.rules_for(user)), kill, status=400)
    stopped = actions.do_kill_switch(user, request=request, sell_base=kill.cleaned_data["sell_base"])
    if stopped:
        count = f"{len(stopped)} bot{'s' if len(stopped) != 1 else ''}"
        messages.success(request, f"Kill switch: {count} stopping, their orders being cancelled.")
    else:
        messages.info(request, "No bot was running: nothing to stop.")
    return HttpResponseRedirect(reverse("risk"))
