"""Editing and deleting a bot from its pages: thin views over `bots.actions`, whose rules the
API follows too (cloning is `bots.views.detail.bot_clone`). The edit page is the wizard's form,
validation and live preview, for a bot that cannot trade: a draft, a stopped bot, or one an
error halted before it held an order."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from accounts.models import User
from bots import actions
from bots.forms import BotForm, initial_from_config, venue_message
from bots.models import Bot
from bots.strategies import dca, grid, registry
from bots.views import dca_wizard
from bots.views.wizard import (
    Preview,
    _as_data,
    _complete,
    _context,
    _with_auto_range,
    load_market,
    run_preview,
)
from exchanges.base import ExchangeError
from exchanges.instruments import instrument_for

EDIT_TEMPLATE = "bots/edit.html"
DELETE_TEMPLATE = "bots/delete.html"
# The explicit field a delete confirmation posts.
CONFIRM_FIELD = "confirm"
CONFIRM_VALUE = "delete"
# Values the edit page reads from a GET (no-JS "Update preview", account change, auto range).
FORM_FIELDS = frozenset(BotForm.base_fields)


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


def _own_bot(request: HttpRequest, pk: int) -> Bot:
    """Another trader's bot does not exist, as far as this user can tell."""
    return get_object_or_404(Bot.objects.owned_by(_user(request)).select_related("exchange_account"), pk=pk)


def _refused(request: HttpRequest, bot: Bot, doing: str) -> HttpResponse | None:
    """Back to the bot page with the reason when the bot may trade; None when it may not."""
    try:
        actions.check_editable(bot, doing)
    except actions.InvalidTransition as exc:
        messages.error(request, str(exc))
        return redirect("bot_detail", pk=bot.pk)
    return None


# Edit -------------------------------------------------------------------------


@login_required
def bot_edit(request: HttpRequest, pk: int) -> HttpResponse:
    bot = _own_bot(request, pk)
    if bot.strategy not in (registry.DEFAULT, dca.DCA.name):
        messages.info(
            request, f"Change “{bot.name}”'s settings through the API (PATCH /api/v1/bots/{bot.pk}/)."
        )
        return redirect("bot_detail", pk=bot.pk)
    refused = _refused(request, bot, "editing it")
    if refused is not None:
        return refused
    if bot.strategy == dca.DCA.name:
        return dca_wizard.bot_edit(request, bot)
    if request.method == "POST":
        return _save(request, bot, BotForm(_user(request), request.POST))
    return _show(request, bot)


def _show(request: HttpRequest, bot: Bot) -> HttpResponse:
    """The form with the bot's settings, or with values sent back by the page itself."""
    user = _user(request)
    sent = {key: value for key, value in request.GET.items() if key in FORM_FIELDS}
    initial: dict[str, Any] = sent or initial_from_config(bot.exchange_account, bot.name, bot.grid_config)
    notice = None
    if request.GET.get("auto_range"):
        initial, notice = _with_auto_range(user, initial)
    form = BotForm(user, initial=initial)
    extra = {"bot": bot, "auto_range_notice": notice}
    if request.htmx:  # type: ignore[attr-defined]
        return render(request, f"{EDIT_TEMPLATE}#edit-form", {**_context(form, Preview(), None), **extra})
    market = load_market(form)
    preview = Preview()
    if _complete(initial):
        preview = run_preview(BotForm(user, _as_data(form, initial)), market)
    return render(request, EDIT_TEMPLATE, {**_context(form, preview, market), **extra})


def _save(request: HttpRequest, bot: Bot, form: BotForm) -> HttpResponse:
    """The wizard's checks, then the API's update: the venue's filters at the live price."""
    market = load_market(form)
    preview = run_preview(form, market)
    if preview.result is not None and preview.config is not None and form.chosen_account is not None:
        account = form.chosen_account
        try:
            price = actions.check_bot_config(account, preview.config)
            bot = actions.do_update_bot(bot, account, form.bot_name(), preview.config, price)
        except grid.GridConfigError as exc:
            form.add_config_errors(exc)
        except ExchangeError as exc:
            form.add_error(None, venue_message(account, exc))
        except actions.InvalidTransition as exc:  # it started meanwhile
            messages.error(request, str(exc))
            return redirect("bot_detail", pk=bot.pk)
        else:
            messages.success(request, f"“{bot.name}” is saved: the next start uses these settings.")
            return redirect("bot_detail", pk=bot.pk)
    context = {**_context(form, preview, market), "bot": bot}
    return render(request, EDIT_TEMPLATE, context, status=400)


# Delete -----------------------------------------------------------------------


@login_required
def bot_delete(request: HttpRequest, pk: int) -> HttpResponse:
    """GET asks, saying what goes with the bot; a POST with the explicit confirmation deletes."""
    bot = _own_bot(request, pk)
    refused = _refused(request, bot, "deleting it")
    if refused is not None:
        return refused
    if request.method == "POST" and request.POST.get(CONFIRM_FIELD) == CONFIRM_VALUE:
        name = bot.name
        try:
            actions.do_delete_bot(bot)
        except actions.InvalidTransition as exc:  # it started meanwhile
            messages.error(request, str(exc))
            return redirect("bot_detail", pk=bot.pk)
        messages.success(request, f"“{name}” and its history are deleted.")
        return redirect("home")
    return render(request, DELETE_TEMPLATE, _delete_context(bot))


def _delete_context(bot: Bot) -> dict[str, Any]:
    books = bot.books
    base_step = None
    if books is not None and books.base > 0:
        try:
            base_step = instrument_for(bot.exchange_account, bot.symbol).quantity_step
        except ExchangeError:
            base_step = None
    return {
        "bot": bot,
        "fills": bot.fills.count(),
        "orders": bot.orders.count(),
        "events": bot.events.count(),
        "books": books,
        "base_step": base_step or "0.00000001",
        "export_url": f"{reverse('trade_export')}?bot={bot.pk}",
        "history_url": f"{reverse('trade_history')}?bot={bot.pk}",
        "confirm_field": CONFIRM_FIELD,
        "confirm_value": CONFIRM_VALUE,
    }
