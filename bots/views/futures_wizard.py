"""The futures grid's wizard: the form, a live preview (levels, margin, liquidation), a review,
then create and start. Every figure comes from `check_futures_preview`, the function the API's
preview answers with; the review's one-time token and the start are the grid wizard's
(`bots.views.wizard`). A liquidation estimated inside the range needs the trader's consent at
the confirmation, as the API's start does (`actions.check_liquidation_consent`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render

from accounts.models import User
from bots import actions, funds, shortfalls
from bots.backtests.models import Backtest
from bots.forms import venue_message
from bots.funds import FundsCheck
from bots.futures_forms import DEFAULT_VALUES, FuturesGridForm, initial_from_futures_config
from bots.futures_previews import FuturesPreviewResult, check_futures_preview, liquidation_shown
from bots.models import Bot
from bots.strategies import futures_grid
from bots.strategies.base import ConfigError
from bots.views import wizard
from exchanges.balances import available_balances, unknown
from exchanges.base import ExchangeError
from exchanges.models import ExchangeAccount
from exchanges.registry import exchange_for_account

STRATEGY = futures_grid.NAME
TEMPLATE = "bots/futures_wizard.html"
FORM_FIELDS = frozenset(FuturesGridForm.base_fields)
CONSENT = "confirm_liquidation_risk"
PERCENT = Decimal("0.01")


def asks_for_futures(request: HttpRequest) -> bool:
    """`?strategy=futures_grid` (a link, the form's hidden field)."""
    return STRATEGY in (request.GET.get("strategy"), request.POST.get("strategy"))


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


# The market beside the form: the perpetual's filters and mark price -------------------


def load_market(form: FuturesGridForm, *, fresh_balances: bool = False) -> wizard.Market | None:
    symbol, account = form.chosen_symbol, form.chosen_account
    if account is None or symbol is None:
        return None
    market = wizard.Market(account=account, symbol=symbol)
    try:
        venue = exchange_for_account(account)
        market.instrument = venue.perpetual_instrument(symbol)
        market.price = venue.mark_price(symbol)
    except ExchangeError as exc:
        market.error = venue_message(account, exc)
        market.balances = unknown(market.error)
        return market
    market.balances = available_balances(
        account, cache_seconds=0 if fresh_balances else wizard.BALANCES_CACHE_SECONDS
    )
    return market


# The preview --------------------------------------------------------------------------


@dataclass
class FuturesPreview:
    result: FuturesPreviewResult | None = None
    config: futures_grid.FuturesGridConfig | None = None
    funds: FundsCheck | None = None
    missing: list[str] = field(default_factory=list)  # labels of required fields still empty


def run_preview(form: FuturesGridForm, market: wizard.Market | None) -> FuturesPreview:
    """Validate the form, then the config through `check_futures_preview` at the mark price the
    page shows; errors land on the form, a position another bot holds on `symbol`."""
    if not form.is_valid():
        missing = [
            str(form.fields[name].label or name)
            for name, errors in form.errors.as_data().items()
            if name in form.fields and any(error.code == "required" for error in errors)
        ]
        return FuturesPreview(missing=missing)
    account = form.chosen_account
    assert account is not None
    config = form.config()
    price = market.price if market and market.symbol == config.symbol else None
    try:
        actions.check_position_free(account, config.symbol)
        result = check_futures_preview(account, config, price)
    except ConfigError as exc:
        form.add_config_errors(exc)
        return FuturesPreview()
    except ExchangeError as exc:
        form.add_error(None, venue_message(account, exc))
        return FuturesPreview()
    balances = market.balances if market else None
    check = funds.check_funds(
        account, config, result.perpetual.instrument, result.price, balances=balances, strategy=STRATEGY
    )
    return FuturesPreview(result=result, config=config, funds=check)


def _shown(estimate: futures_grid.Liquidation | None, result: FuturesPreviewResult) -> Decimal | None:
    return liquidation_shown(estimate, result.perpetual.instrument.tick_size) if estimate else None


def figures(preview: FuturesPreview) -> dict[str, Any]:
    """What the preview, the summary and the review show beyond the strategy's own numbers."""
    result, config, check = preview.result, preview.config, preview.funds
    if result is None or config is None or check is None:
        return {}
    numbers = result.preview
    instrument = result.perpetual.instrument
    balances = check.balances
    long_side = numbers.liquidation if config.mode is not futures_grid.Mode.SHORT else None
    short_side = (
        numbers.liquidation if config.mode is futures_grid.Mode.SHORT else numbers.liquidation_short_side
    )
    return {
        "funds_needed": funds.amounts_text(check.needed, instrument, ROUND_UP, skip_zero=True),
        "available": (
            shortfalls.amount(
                balances.free.get(instrument.quote, Decimal(0)), instrument.quote, instrument, ROUND_DOWN
            )
            if balances.known
            else ""
        ),
        "fits": balances.known and not check.short,
        "warnings": [*numbers.warnings, *([check.message] if check.short else [])],
        "liquidation_long": _shown(long_side, result),
        "liquidation_short": _shown(short_side, result),
        "liquidation_at_start": _shown(numbers.liquidation_at_start, result),
        "position_side": "short" if numbers.position_at_start < 0 else "long",
        "position_size": abs(numbers.position_at_start),
        "profit_min_percent": (numbers.profit_per_grid_min_fraction * 100).quantize(PERCENT, ROUND_DOWN),
        "profit_max_percent": (numbers.profit_per_grid_max_fraction * 100).quantize(PERCENT, ROUND_DOWN),
        "maintenance_percent": numbers.maintenance_margin_rate * 100,
        "liquidation_risk": actions.liquidation_risk(result, config),
        "risk_price": _shown(futures_grid.liquidation_in_range(numbers, config), result),
    }


def _context(
    form: FuturesGridForm,
    preview: FuturesPreview,
    market: wizard.Market | None,
    *,
    typing: bool = False,
    **extra: Any,
) -> dict[str, Any]:
    result = preview.result
    instrument = result.perpetual.instrument if result else (market.instrument if market else None)
    return {
        **wizard.form_context(form, market, instrument, typing=typing),
        "preview": preview,
        "config": preview.config,
        "result": result,
        "price_label": "Mark price",
        "futures": figures(preview),
        "leverage_cap": form.leverage_cap,
        "strategy": STRATEGY,
        **extra,
    }


def _complete(values: dict[str, Any]) -> bool:
    required = ("lower_price", "upper_price", "investment", "leverage", "grid_count")
    return all(values.get(name) not in (None, "") for name in required)


# The wizard ---------------------------------------------------------------------------


def bot_create(request: HttpRequest) -> HttpResponse:
    """/bots/new/?strategy=futures_grid (login and an account are the caller's checks)."""
    if request.method == "POST":
        if "confirm" in request.POST:
            return _confirm(request)
        form = FuturesGridForm(_user(request), request.POST)
        if "edit" in request.POST:
            market = load_market(form)
            return render(request, TEMPLATE, _context(form, run_preview(form, market), market))
        return _review(request, form)
    return _form_page(request, _initial(request))


def _initial(request: HttpRequest) -> dict[str, Any]:
    """A futures backtest's or bot's settings to start from (the caller checked which), or the
    values in the address over the defaults."""
    backtest = request.GET.get("backtest")
    if backtest:
        found = get_object_or_404(
            Backtest.objects.owned_by(_user(request)), pk=wizard.int_or_404(backtest), strategy=STRATEGY
        )
        name = f"{found.symbol} futures grid (backtest {found.pk})"
        return initial_from_futures_config(None, name, futures_grid.config_from_json(found.config))
    clone = request.GET.get("clone")
    if clone:
        bot = get_object_or_404(
            Bot.objects.owned_by(_user(request)), pk=wizard.int_or_404(clone), strategy=STRATEGY
        )
        return initial_from_futures_config(
            bot.exchange_account_id, f"Copy of {bot.name}"[:80], bot.strategy_config
        )
    sent = {key: value for key, value in request.GET.items() if key in FORM_FIELDS}
    return {**DEFAULT_VALUES, **sent}


def _form_page(request: HttpRequest, initial: dict[str, Any]) -> HttpResponse:
    user = _user(request)
    form = FuturesGridForm(user, initial=initial)
    if request.htmx:  # type: ignore[attr-defined]
        # The swapped-in form (another account's symbols) asks for its own preview on load.
        return render(request, f"{TEMPLATE}#futures-form", _context(form, FuturesPreview(), None))
    market = load_market(form)
    preview = FuturesPreview()
    if _complete(initial):
        preview = run_preview(FuturesGridForm(user, wizard._as_data(form, initial)), market)
    return render(request, TEMPLATE, _context(form, preview, market))


def bot_preview(request: HttpRequest) -> HttpResponse:
    """The preview of the values typed so far: a fragment over htmx, the whole page without JS."""
    form = FuturesGridForm(_user(request), request.GET)
    market = load_market(form)
    typing = bool(request.htmx)  # type: ignore[attr-defined]
    context = _context(form, run_preview(form, market), market, typing=typing)
    if typing:
        return render(request, f"{TEMPLATE}#futures-preview-response", context)
    return render(request, TEMPLATE, context)


def _review(request: HttpRequest, form: FuturesGridForm, *, consent_error: str = "") -> HttpResponse:
    """The grid's figures and risks to confirm; nothing is created yet, and nothing the account
    cannot fund reaches the confirmation."""
    market = load_market(form, fresh_balances=True)
    preview = run_preview(form, market)
    if preview.funds is not None and preview.funds.short:
        form.add_error("investment", preview.funds.message)
        return render(request, TEMPLATE, _context(form, preview, market), status=400)
    account = form.chosen_account
    if preview.result is None or preview.config is None or account is None:
        return render(request, TEMPLATE, _context(form, preview, market), status=400)
    token = wizard.remember_review(request, account, form.bot_name(), preview.config, STRATEGY)
    context = _context(
        form,
        preview,
        market,
        step="confirm",
        token=token,
        venue_warning=wizard.venue_warning(account),
        consent_error=consent_error,
    )
    return render(request, TEMPLATE, context, status=400 if consent_error else 200)


def _confirm(request: HttpRequest) -> HttpResponse:
    """The reviewed config, checked again at the mark price, created and started once."""
    token = request.POST.get("token", "")
    review = wizard.claim_review(request, token, STRATEGY)
    if review is None:
        return wizard.already_claimed(request, token) or _edit_again(request)
    account = get_object_or_404(ExchangeAccount.objects.owned_by(_user(request)), pk=review["account"])
    config = futures_grid.config_from_json(review["config"])
    try:
        result = actions.check_futures_bot(account, config)
        actions.check_liquidation_consent(result, config, confirmed=request.POST.get(CONSENT) == "on")
    except (ConfigError, ExchangeError) as exc:
        wizard.release_claim(token)
        if isinstance(exc, ConfigError) and set(exc.errors) == {CONSENT}:
            form = FuturesGridForm(_user(request), request.POST)
            return _review(request, form, consent_error=exc.errors[CONSENT][0])
        return _changed_since_review(request, account, review["name"], config, exc)
    return wizard.create_and_start(request, token, account, review["name"], config, result.price, STRATEGY)


def _edit_again(request: HttpRequest) -> HttpResponse:
    form = FuturesGridForm(_user(request), request.POST)
    market = load_market(form)
    return render(request, TEMPLATE, _context(form, run_preview(form, market), market), status=400)


def _changed_since_review(
    request: HttpRequest,
    account: ExchangeAccount,
    name: str,
    config: futures_grid.FuturesGridConfig,
    error: Exception,
) -> HttpResponse:
    """The market moved, another bot took the position, or the venue failed since the review."""
    form = FuturesGridForm(_user(request), initial_from_futures_config(account.pk, name, config))
    form.is_valid()
    if isinstance(error, ConfigError):
        form.add_config_errors(error)
    elif isinstance(error, ExchangeError):
        form.add_error(None, venue_message(account, error))
    context = _context(form, FuturesPreview(), load_market(form))
    return render(request, TEMPLATE, context, status=400)
