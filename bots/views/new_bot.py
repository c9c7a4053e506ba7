"""/bots/new/: the trader first chooses a strategy (a link, `?strategy=dca`); the grid is the
default, so the grid wizard's addresses and behaviour stay as they were."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bots.backtests.models import Backtest
from bots.models import Bot
from bots.views import dca_wizard, wizard
from exchanges.models import ExchangeAccount


def _wants_dca(request: HttpRequest) -> bool:
    """Asked for by name, or the bot to copy or the backtest to start from is a DCA bot's.
    Someone else's (or a missing) one is left to the grid wizard, which answers 404."""
    if dca_wizard.asks_for_dca(request):
        return True
    backtest, clone = request.GET.get("backtest", ""), request.GET.get("clone", "")
    if backtest.isdigit():
        found = Backtest.objects.owned_by(request.user).filter(pk=int(backtest)).first()
        return found is not None and found.strategy == dca_wizard.STRATEGY
    if clone.isdigit():
        bot = Bot.objects.owned_by(request.user).filter(pk=int(clone)).first()
        return bot is not None and bot.strategy == dca_wizard.STRATEGY
    return False


def _without_accounts(request: HttpRequest) -> HttpResponse | None:
    if ExchangeAccount.objects.owned_by(request.user).exists():
        return None
    return render(request, wizard.TEMPLATE, {"no_accounts": True})


@login_required
def bot_create(request: HttpRequest) -> HttpResponse:
    if not _wants_dca(request):
        return wizard.bot_create(request)
    return _without_accounts(request) or dca_wizard.bot_create(request)


@login_required
def bot_preview(request: HttpRequest) -> HttpResponse:
    if not dca_wizard.asks_for_dca(request):
        return wizard.bot_preview(request)
    return _without_accounts(request) or dca_wizard.bot_preview(request)
