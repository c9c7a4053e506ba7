"""The DCA bot's wizard and edit page: the form, a live safety-order table, a review, then create
and start. The market beside the form, the review's one-time token and the start are the grid
wizard's (`bots.views.wizard`); every figure comes from `check_preview(..., strategy="dca")`,
the function the API's preview answers with."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from accounts.models import User
from bots import actions, funds, shortfalls
from bots.backtests.models import Backtest
from bots.dca_forms import DEFAULT_VALUES, DcaBotForm, initial_from_dca_config
from bots.forms import venue_message
from bots.models import Bot
from bots.previews import PreviewResult, check_preview
from bots.strategies import dca
from bots.strategies.base import ConfigError
from bots.views import wizard
from exchanges.base import ExchangeError, Side
from exchanges.models import ExchangeAccount
from trading.numbers import exact

STRATEGY = dca.DCA.name
TEMPLATE = "bots/dca_wizard.html"
EDIT_TEMPLATE = "bots/dca_edit.html"
FORM_FIELDS = frozenset(DcaBotForm.base_fields)


def asks_for_dca(request: HttpRequest) -> bool:
    """`?strategy=dca` (a link, the form's hidden field): the DCA wizard; anything else, the grid's."""
    return STRATEGY in (request.GET.get("strategy"), request.POST.get("strategy"))


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


# The preview ----------------------------------------------------------------------


@dataclass
class DealPreview:
    result: PreviewResult | None = None
    config: dca.DcaConfig | None = None
    missing: list[str] = field(default_factory=list)  # labels of required fields still empty


def run_preview(form: DcaBotForm, market: wizard.Market | None) -> DealPreview:
    """Validate the form, then the config through the strategy; its errors land on the form.
    The deal is laid out at the price the page shows."""
    if not form.is_valid():
        missing = [
            str(form.fields[name].label or name)
            for name, errors in form.errors.as_data().items()
            if name in form.fields and any(error.code == "required" for error in errors)
        ]
        return DealPreview(missing=missing)
    assert form.chosen_account is not None
    try:
        config = form.config()
        price = market.price if market and market.symbol == config.symbol else None
        balances = market.balances if market else None
        result = check_preview(form.chosen_account, config, price, balances=balances, strategy=STRATEGY)
        return DealPreview(result=result, config=config)
    except ConfigError as exc:
        form.add_config_errors(exc)
    except ExchangeError as exc:
        form.add_error(None, venue_message(form.chosen_account, exc))
    return DealPreview()


def deal_summary(preview: DealPreview) -> dict[str, Any]:
    """The deal's funds against the balance the funds come from, and the warnings to show."""
    result = preview.result
    if result is None:
        return {}
    numbers: dca.DcaPreview = result.preview
    balances = result.funds.balances
    asset = numbers.funds_asset
    return {
        "funds_needed": funds.amounts_text(result.funds.needed, result.instrument, ROUND_UP, skip_zero=True),
        "available": (
            shortfalls.amount(balances.free.get(asset, Decimal(0)), asset, result.instrument, ROUND_DOWN)
            if balances.known
            else ""
        ),
        "fits": balances.known and not result.funds.short,
        "warnings": wizard.warnings(result),
        "short": preview.config is not None and preview.config.direction is dca.Direction.SHORT,
        "last": numbers.safety_orders[-1] if numbers.safety_orders else None,
    }


def chart_data(market: wizard.Market | None, preview: DealPreview) -> dict[str, Any] | None:
    """The grid wizard's chart, its lines the deal's orders: the base order's price, the safety
    orders, and the take profit if none fills."""
    chart = wizard.chart_data(market, None)
    if chart is None or preview.result is None or preview.config is None:
        return chart
    numbers: dca.DcaPreview = preview.result.preview
    short = preview.config.direction is dca.Direction.SHORT
    entry, exit_ = (Side.SELL, Side.BUY) if short else (Side.BUY, Side.SELL)
    prices = [(numbers.reference_price, "")]
    prices += [(row.price, entry.value) for row in numbers.safety_orders]
    prices.append((numbers.base_take_profit_price, exit_.value))
    chart["levels"] = [{"price": exact(price), "side": side} for price, side in prices]
    return chart


def _context(
    form: DcaBotForm,
    preview: DealPreview,
    market: wizard.Market | None,
    *,
    typing: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    result = preview.result
    instrument = result.instrument if result else (market.instrument if market else None)
    return {
        **wizard.form_context(form, market, instrument, typing=typing),
        "preview": preview,
        "config": preview.config,
        "result": result,
        "chart": chart_data(market, preview),
        "deal": deal_summary(preview),
        "strategy": STRATEGY,
        **extra,
    }


def _with_defaults(values: dict[str, Any]) -> dict[str, Any]:
    """The form's own values among `values` (a GET's), over the defaults of the fields left out."""
    return {**DEFAULT_VALUES, **{key: value for key, value in values.items() if key in FORM_FIELDS}}


def _complete(values: dict[str, Any]) -> bool:
    required = ("base_order_size", "safety_order_size", "price_deviation", "max_safety_orders", "take_profit")
    return all(values.get(name) not in (None, "") for name in required)


def _form_page(
    request: HttpRequest, initial: dict[str, Any], template: str, partial: str, **extra: Any
) -> HttpResponse:
    """The form with `initial` values; a preview beside it when they make one."""
    user = _user(request)
    form = DcaBotForm(user, initial=initial)
    if request.htmx:  # type: ignore[attr-defined]
        # The swapped-in form (another account's symbols) asks for its own preview on load.
        return render(request, f"{template}#{partial}", _context(form, DealPreview(), None, **extra))
    market = wizard.load_market(form)
    preview = DealPreview()
    if _complete(initial):
        preview = run_preview(DcaBotForm(user, wizard._as_data(form, initial)), market)
    return render(request, template, _context(form, preview, market, **extra))


# The wizard ---------------------------------------------------------------------------


def bot_create(request: HttpRequest) -> HttpResponse:
    """/bots/new/?strategy=dca (login and an account are the caller's checks)."""
    if request.method == "POST":
        if "confirm" in request.POST:
            return _confirm(request)
        form = DcaBotForm(_user(request), request.POST)
        if "edit" in request.POST:
            market = wizard.load_market(form)
            return render(request, TEMPLATE, _context(form, run_preview(form, market), market))
        return _review(request, form)
    return _form_page(request, _initial(request), TEMPLATE, "dca-form")


def _initial(request: HttpRequest) -> dict[str, Any]:
    """A DCA backtest's or bot's settings to start from (the caller checked which), or the
    values in the address over the defaults."""
    user = _user(request)
    backtest = request.GET.get("backtest")
    if backtest:
        found = get_object_or_404(
            Backtest.objects.owned_by(user), pk=wizard.int_or_404(backtest), strategy=STRATEGY
        )
        name = f"{found.symbol} DCA (backtest {found.pk})"
        return initial_from_dca_config(None, name, dca.config_from_json(found.config))
    clone = request.GET.get("clone")
    if clone:
        bot = get_object_or_404(Bot.objects.owned_by(user), pk=wizard.int_or_404(clone), strategy=STRATEGY)
        name = f"Copy of {bot.name}"[:80]
        return initial_from_dca_config(bot.exchange_account_id, name, bot.strategy_config)
    return _with_defaults(request.GET.dict())


def bot_preview(request: HttpRequest) -> HttpResponse:
    """The preview of the values typed so far: a fragment over htmx, the whole page without JS.
    The edit page's form asks here too: the fragment is the same."""
    form = DcaBotForm(_user(request), request.GET)
    market = wizard.load_market(form)
    typing = bool(request.htmx)  # type: ignore[attr-defined]
    context = _context(form, run_preview(form, market), market, typing=typing)
    if typing:
        return render(request, f"{TEMPLATE}#dca-preview-response", context)
    return render(request, TEMPLATE, context)


def _review(request: HttpRequest, form: DcaBotForm) -> HttpResponse:
    """The deal's figures to confirm; nothing is created yet, and nothing the account cannot fund
    reaches the confirmation."""
    market = wizard.load_market(form, fresh_balances=True)
    preview = run_preview(form, market)
    if preview.result is not None and preview.result.funds.short:
        form.add_error("base_order_size", preview.result.funds.message)
        return render(request, TEMPLATE, _context(form, preview, market), status=400)
    if preview.result is None or preview.config is None or form.chosen_account is None:
        return render(request, TEMPLATE, _context(form, preview, market), status=400)
    account = form.chosen_account
    token = wizard.remember_review(request, account, form.bot_name(), preview.config, STRATEGY)
    context = _context(
        form, preview, market, step="confirm", token=token, venue_warning=wizard.venue_warning(account)
    )
    return render(request, TEMPLATE, context)


def _confirm(request: HttpRequest) -> HttpResponse:
    """The grid wizard's confirmation: the reviewed config, checked again, created once."""
    token = request.POST.get("token", "")
    review = wizard.claim_review(request, token, STRATEGY)
    if review is None:
        return wizard.already_claimed(request, token) or _edit_again(
            request, DcaBotForm(_user(request), request.POST)
        )
    account = get_object_or_404(ExchangeAccount.objects.owned_by(_user(request)), pk=review["account"])
    config = dca.config_from_json(review["config"])
    try:
        price = actions.check_bot_config(account, config, STRATEGY)
        actions.check_bot_funds(account, config, price, STRATEGY)
    except (ConfigError, ExchangeError) as exc:
        wizard.release_claim(token)
        return _changed_since_review(request, account, review["name"], config, exc)
    return wizard.create_and_start(request, token, account, review["name"], config, price, STRATEGY)


def _edit_again(request: HttpRequest, form: DcaBotForm) -> HttpResponse:
    market = wizard.load_market(form)
    return render(request, TEMPLATE, _context(form, run_preview(form, market), market), status=400)


def _changed_since_review(
    request: HttpRequest, account: ExchangeAccount, name: str, config: dca.DcaConfig, error: Exception
) -> HttpResponse:
    """The market moved (or the venue failed) between review and confirmation."""
    form = DcaBotForm(_user(request), initial_from_dca_config(account.pk, name, config))
    form.is_valid()
    if isinstance(error, ConfigError):
        form.add_config_errors(error)
    elif isinstance(error, ExchangeError):
        form.add_error(None, venue_message(account, error))
    return render(request, TEMPLATE, _context(form, DealPreview(), wizard.load_market(form)), status=400)


# The edit page --------------------------------------------------------------------------


def bot_edit(request: HttpRequest, bot: Bot) -> HttpResponse:
    """A DCA bot that cannot trade (edit.py checks that): its settings in the wizard's form."""
    if request.method == "POST":
        return _save(request, bot, DcaBotForm(_user(request), request.POST))
    sent = {key: value for key, value in request.GET.items() if key in FORM_FIELDS}
    config = dca.config_from_json(bot.config)
    initial = (
        _with_defaults(sent) if sent else initial_from_dca_config(bot.exchange_account_id, bot.name, config)
    )
    return _form_page(request, initial, EDIT_TEMPLATE, "dca-edit-form", bot=bot)


def _save(request: HttpRequest, bot: Bot, form: DcaBotForm) -> HttpResponse:
    """The API's update: the strategy's rules at the live price, then `do_update_bot`."""
    market = wizard.load_market(form)
    preview = run_preview(form, market)
    if preview.result is not None and preview.config is not None and form.chosen_account is not None:
        account = form.chosen_account
        try:
            price = actions.check_bot_config(account, preview.config, STRATEGY)
            bot = actions.do_update_bot(bot, account, form.bot_name(), preview.config, price)
        except ConfigError as exc:
            form.add_config_errors(exc)
        except ExchangeError as exc:
            form.add_error(None, venue_message(account, exc))
        except actions.InvalidTransition as exc:  # it started meanwhile
            messages.error(request, str(exc))
            return redirect("bot_detail", pk=bot.pk)
        else:
            messages.success(request, f"“{bot.name}” is saved: the next start uses these settings.")
            return redirect("bot_detail", pk=bot.pk)
    return render(request, EDIT_TEMPLATE, {**_context(form, preview, market), "bot": bot}, status=400)
