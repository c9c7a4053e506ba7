"""/bots/new/: the trader first chooses a strategy (a link, `?strategy=dca` or
`?strategy=futures_grid`); the grid is the default, so the grid wizard's addresses and behaviour
stay as they were."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from bots.backtests.models import Backtest
from bots.models import Bot
from bots.views import dca_wizard, futures_wizard, wizard
from exchanges.models import ExchangeAccount


def _wanted(request: HttpRequest) -> str:
    """The strategy asked for by name, or the one of the bot to copy or the backtest to start
    from. Someone else's (or a missing) one is left to the grid wizard, which answers 404."""
    if dca_wizard.asks_for_dca(request):
        return dca_wizard.STRATEGY
    if futures_wizard.asks_for_futures(request):
        return futures_wizard.STRATEGY
    backtest, clone = request.GET.get("backtest", ""), request.GET.get("clone", "")
    if backtest.isdigit():
        found = Backtest.objects.owned_by(request.user).filter(pk=int(backtest)).first()
        wizards = (dca_wizard.STRATEGY, futures_wizard.STRATEGY)
        return found.strategy if found is not None and found.strategy in wizards else ""
    if clone.isdigit():
        bot = Bot.objects.owned_by(request.user).filter(pk=int(clone)).first()
        return bot.strategy if bot is not None else ""
    return ""


def _without_accounts(request: HttpRequest) -> HttpResponse | None:
    if ExchangeAccount.objects.owned_by(request.user).exists():
        return None
    return render(request, wizard.TEMPLATE, {"no_accounts": True})


@login_required
def bot_create(request: HttpRequest) -> HttpResponse:
    wanted = _wanted(request)
    if wanted == dca_wizard.STRATEGY:
        return _without_accounts(request) or dca_wizard.bot_create(request)
    if wanted == futures_wizard.STRATEGY:
        return _without_accounts(request) or futures_wizard.bot_create(request)
    return wizard.bot_create(request)


@login_required
def bot_preview(request: HttpRequest) -> HttpResponse:
    if dca_wizard.asks_for_dca(request):
        return _without_accounts(request) or dca_wizard.bot_preview(request)
    if futures_wizard.asks_for_futures(request):
        return _without_accounts(request) or futures_wizard.bot_preview(request)
    return wizard.bot_preview(request)
