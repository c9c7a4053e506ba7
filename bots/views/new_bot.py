"""/bots/new/: the trader first chooses a strategy (a link, `?strategy=dca`); the grid is the
default, so the grid wizard's addresses and behaviour stay as they were."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bots.views import dca_wizard, wizard
from exchanges.models import ExchangeAccount


def _without_accounts(request: HttpRequest) -> HttpResponse | None:
    if ExchangeAccount.objects.owned_by(request.user).exists():
        return None
    return render(request, wizard.TEMPLATE, {"no_accounts": True})


@login_required
def bot_create(request: HttpRequest) -> HttpResponse:
    if not dca_wizard.asks_for_dca(request):
        return wizard.bot_create(request)
    return _without_accounts(request) or dca_wizard.bot_create(request)


@login_required
def bot_preview(request: HttpRequest) -> HttpResponse:
    if not dca_wizard.asks_for_dca(request):
        return wizard.bot_preview(request)
    return _without_accounts(request) or dca_wizard.bot_preview(request)
