"""Force stop: a bot whose stop cannot finish (its exchange is gone) is marked stopped without
reaching the exchange, after a page that says so and lists what may still be open there."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from accounts.models import User
from bots import actions
from bots.models import Bot

TEMPLATE = "bots/force_stop.html"


def _own_bot(request: HttpRequest, pk: int) -> Bot:
    user: User = request.user  # type: ignore[assignment]
    return get_object_or_404(Bot.objects.owned_by(user).select_related("exchange_account"), pk=pk)


@login_required
@require_http_methods(["GET", "POST"])
def bot_force_stop(request: HttpRequest, pk: int) -> HttpResponse:
    """GET explains and asks; POST marks the bot stopped."""
    bot = _own_bot(request, pk)
    try:
        actions.check_force_stop(bot)
    except actions.InvalidTransition as exc:
        messages.error(request, str(exc))
        return redirect("bot_detail", pk=bot.pk)
    if request.method == "POST":
        bot = actions.do_force_stop(bot)
        left = len(actions.may_be_open(bot))
        venue = bot.exchange_account.get_exchange_display()
        note = (
            f" {left} order{'s' if left != 1 else ''} may still be open on {venue}: see below."
            if left
            else ""
        )
        messages.warning(request, f"“{bot.name}” is marked stopped without reaching {venue}.{note}")
        return redirect("bot_detail", pk=bot.pk)
    # Nothing here asks the exchange (not even for its price steps): it may be the reason.
    return render(request, TEMPLATE, {"bot": bot, "orders": actions.may_be_open(bot)})
