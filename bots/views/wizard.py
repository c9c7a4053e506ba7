"""The create-bot wizard: a form with a live preview, an auto range, a review, then create and start.

Every number on the page comes from `bots.previews.check_preview`, the function the API uses,
so what a trader reviews is what the strategy will do.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import NoReverseMatch, reverse

from accounts.models import User
from billing.entitlements import PlanLimitReached
from billing.pages import refuse
from bots import actions, codec, funds
from bots.backtests import recent
from bots.backtests.models import Backtest
from bots.forms import (
    DEFAULT_GRID_COUNT,
    BotForm,
    MarketForm,
    initial_from_backtest,
    initial_from_bot,
    initial_from_config,
    venue_message,
)
from bots.models import Bot
from bots.previews import PreviewResult, check_preview
from bots.strategies import grid, ranges, registry
from bots.views.charts import candle_points
from exchanges.balances import AccountBalances, available_balances, unknown
from exchanges.base import Candle, ExchangeError, Instrument
from exchanges.instruments import instrument_for, recent_candles
from exchanges.models import ExchangeAccount, ExchangeName
from exchanges.registry import exchange_for_account
from risk.checks import RiskLimitReached
from trading.numbers import exact
from trading.templatetags.money import format_amount

TEMPLATE = "bots/wizard.html"
CHART_INTERVAL = "15m"
CHART_WINDOW = timedelta(days=2)
CANDLES_CACHE_SECONDS = 60  # a preview per keystroke must not cost a venue call per keystroke
BALANCES_CACHE_SECONDS = 10  # while typing; the review reads them afresh
REVIEWS_SESSION_KEY = "bot_wizard_reviews"
REVIEWS_KEPT = 5
CLAIM_SECONDS = 24 * 3600
CLAIMED = "claimed"


def _user(request: HttpRequest) -> User:
    return request.user  # type: ignore[return-value]


# The market beside the form -----------------------------------------------------


@dataclass
class Market:
    account: ExchangeAccount
    symbol: str
    instrument: Instrument | None = None
    price: Decimal | None = None
    candles: list[Candle] = field(default_factory=list)
    error: str | None = None
    balances: AccountBalances | None = None


def load_market(form: MarketForm, *, fresh_balances: bool = False) -> Market | None:
    symbol = form.chosen_symbol
    if form.chosen_account is None or symbol is None:
        return None
    market = Market(account=form.chosen_account, symbol=symbol)
    try:
        market.instrument = instrument_for(form.chosen_account, symbol)
        market.price = exchange_for_account(form.chosen_account).ticker(symbol).last
        market.candles = recent_candles(
            form.chosen_account, symbol, CHART_INTERVAL, CHART_WINDOW, cache_seconds=CANDLES_CACHE_SECONDS
        )
    except ExchangeError as exc:
        market.error = venue_message(form.chosen_account, exc)
        # A venue that just failed is not asked again for the balances: the page waited enough.
        market.balances = unknown(market.error)
        return market
    market.balances = available_balances(
        form.chosen_account, cache_seconds=0 if fresh_balances else BALANCES_CACHE_SECONDS
    )
    return market


# The preview --------------------------------------------------------------------


@dataclass
class Preview:
    result: PreviewResult | None = None
    config: grid.GridConfig | None = None
    missing: list[str] = field(default_factory=list)  # labels of required fields still empty


def run_preview(form: BotForm, market: Market | None) -> Preview:
    """Validate the form, then the config through `check_preview`; errors land on the form.

    The grid is laid out at the price the page shows, so one ticker call serves both."""
    if not form.is_valid():
        missing = [
            str(form.fields[name].label or name)
            for name, errors in form.errors.as_data().items()
            if name in form.fields and any(error.code == "required" for error in errors)
        ]
        return Preview(missing=missing)
    assert form.chosen_account is not None
    try:
        config = form.config()
        price = market.price if market and market.symbol == config.symbol else None
        balances = market.balances if market else None
        result = check_preview(form.chosen_account, config, price, balances=balances)
        return Preview(result=result, config=config)
    except grid.GridConfigError as exc:
        form.add_config_errors(exc)
    except ExchangeError as exc:
        form.add_error(None, venue_message(form.chosen_account, exc))
    return Preview()


def chart_data(market: Market | None, result: PreviewResult | None) -> dict[str, Any] | None:
    """Numbers as strings for the chart only: display, never arithmetic."""
    if market is None or market.price is None:
        return None
    candles = candle_points(market.candles)
    levels = []
    if result is not None:
        levels = [
            {"price": exact(level.price), "side": level.side.value if level.side else ""}
            for level in result.preview.levels
        ]
    tick = market.instrument.tick_size if market.instrument else Decimal("0.01")
    return {
        "price": exact(market.price),
        "tick": exact(tick),
        "precision": max(0, -int(tick.normalize().as_tuple().exponent)),
        "candles": candles,
        "levels": levels,
    }


def shown_errors(form: MarketForm, *, typing: bool) -> dict[str, list[str]]:
    """Each field's errors; while typing, not "required" for a field the trader has not reached."""
    if not form.is_bound:
        return {}
    return {
        name: [
            message
            for error in errors
            if not (typing and error.code == "required")
            for message in error.messages
        ]
        for name, errors in form.errors.as_data().items()
    }


def summary(preview: Preview) -> dict[str, Any]:
    """Figures the template cannot compute, such as losses as negative amounts."""
    result, config = preview.result, preview.config
    if result is None or config is None:
        return {}
    numbers = result.preview
    base = numbers.base_to_buy or numbers.base_to_sell
    return {
        "funds_needed": funds.amounts_text(result.funds.needed, result.instrument, ROUND_UP, skip_zero=True),
        "warnings": warnings(result),
        "base_amount": base,
        "base_action": "buy" if numbers.base_to_buy else "sell",
        "base_value": base * result.price,
        "risk": risk_rows(config, numbers.risk),
        "config": config,
    }


def risk_rows(config: grid.GridConfig, risk: grid.Risk) -> list[dict[str, Any]]:
    """The outcome at each bound, and at the stop-loss when there is one, as the pages list them."""
    rows = [
        ("lower", "the lower bound", config.lower_price, risk.pnl_at_lower),
        ("upper", "the upper bound", config.upper_price, risk.pnl_at_upper),
    ]
    if config.stop_loss_price is not None and risk.pnl_at_stop is not None:
        rows.append(("stop", "your stop-loss", config.stop_loss_price, risk.pnl_at_stop))
    return [
        {"key": key, "label": label, "price": price, "pnl": pnl, "fraction": risk.fraction(pnl)}
        for key, label, price, pnl in rows
    ]


def warnings(result: PreviewResult) -> list[str]:
    """The strategy's warnings, then the account's: funds short, or balances unknown."""
    found = list(result.preview.warnings)
    if result.funds.short:
        found.append(result.funds.message)
    elif not result.funds.balances.known:
        found.append(
            f"Your balances are unknown: {result.funds.balances.reason} "
            "The funds are checked again when the bot starts."
        )
    return found


def wallet(market: Market | None, instrument: Instrument | None) -> dict[str, str] | None:
    """The account's available quote and base beside the market, or why they are unknown."""
    if market is None or market.balances is None or instrument is None:
        return None
    balances = market.balances
    return {
        "available": funds.amounts_text(balances.free, instrument, ROUND_DOWN) if balances.known else "",
        "unknown": balances.reason,
    }


def hindsight(preview: Preview) -> recent.Hindsight | recent.Unavailable | None:
    """The config over the newest 30 days of candles, beside the static figures."""
    if preview.result is None or preview.config is None:
        return None
    return recent.hindsight(preview.config, preview.result.instrument)


def fee_percent(fee: Decimal) -> str:
    return format_amount(fee * 100, "0.001").rstrip("0").rstrip(".") + "%"


def form_context(
    form: MarketForm, market: Market | None, instrument: Instrument | None, *, typing: bool
) -> dict[str, Any]:
    """What every wizard's page shows of its form and its market, whatever the strategy."""
    errors = shown_errors(form, typing=typing)
    return {
        "form": form,
        "instrument": instrument,
        "fees": (fee_percent(instrument.maker_fee), fee_percent(instrument.taker_fee))
        if instrument
        else None,
        "market": market,
        "fields": {bound.name: (bound, errors.get(bound.name, [])) for bound in form},
        "non_field_errors": errors.get("__all__", []) or ([form.venue_error] if form.venue_error else []),
        "wallet": wallet(market, instrument),
    }


def _context(
    form: BotForm, preview: Preview, market: Market | None, *, typing: bool = False, **extra: Any
) -> dict[str, Any]:
    result = preview.result
    instrument = result.instrument if result else (market.instrument if market else None)
    return {
        **form_context(form, market, instrument, typing=typing),
        "preview": preview,
        "result": result,
        "chart": chart_data(market, result),
        "summary": summary(preview),
        "hindsight": hindsight(preview),
        **extra,
    }


# Pages --------------------------------------------------------------------------


@login_required
def bot_create(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not ExchangeAccount.objects.owned_by(user).exists():
        return render(request, TEMPLATE, {"no_accounts": True})
    if request.method == "POST":
        if "confirm" in request.POST:
            return _confirm(request)
        form = BotForm(user, request.POST)
        if "edit" in request.POST:
            return _edit(request, form)
        return _review(request, form)
    return _start(request)


@login_required
def bot_preview(request: HttpRequest) -> HttpResponse:
    """The preview for the values typed so far: a fragment over htmx, the whole page without JS."""
    user = _user(request)
    if not ExchangeAccount.objects.owned_by(user).exists():
        return render(request, TEMPLATE, {"no_accounts": True})
    form = BotForm(user, request.GET)
    market = load_market(form)
    typing = bool(request.htmx)  # type: ignore[attr-defined]
    context = _context(form, run_preview(form, market), market, typing=typing)
    if typing:
        return render(request, f"{TEMPLATE}#wizard-preview-response", context)
    return render(request, TEMPLATE, context)


def _start(request: HttpRequest) -> HttpResponse:
    """The blank, cloned or auto-ranged form, with a preview when the values make one."""
    user = _user(request)
    initial = _initial(request)
    notice = None
    if request.GET.get("auto_range"):
        initial, notice = _with_auto_range(user, initial)
    form = BotForm(user, initial=initial)
    if request.htmx:  # type: ignore[attr-defined]
        # The swapped-in form asks for its own preview on load.
        return render(
            request, f"{TEMPLATE}#wizard-form", _context(form, Preview(), None, auto_range_notice=notice)
        )
    market = load_market(form)
    preview = Preview()
    if _complete(initial):
        preview = run_preview(BotForm(user, _as_data(form, initial)), market)
    context = _context(form, preview, market, auto_range_notice=notice)
    return render(request, TEMPLATE, context)


def _initial(request: HttpRequest) -> dict[str, Any]:
    backtest = request.GET.get("backtest")
    if backtest:
        # A futures grid's backtest has no bot to become yet: a 404 like any grid it is not.
        grids = Backtest.objects.owned_by(_user(request)).filter(strategy=grid.GRID.name)
        return initial_from_backtest(get_object_or_404(grids, pk=int_or_404(backtest)))
    clone = request.GET.get("clone")
    if clone:
        bot = get_object_or_404(Bot.objects.owned_by(_user(request)), pk=int_or_404(clone))
        # The wizard's form is the grid's: another strategy's bot is not a grid to start from.
        return initial_from_bot(bot) if bot.strategy == "grid" else {}
    values = {
        key: value for key, value in request.GET.items() if key not in ("auto_range", "clone", "backtest")
    }
    values.pop("csrfmiddlewaretoken", None)
    values.setdefault("grid_count", str(DEFAULT_GRID_COUNT))
    values.setdefault("spacing", grid.Spacing.ARITHMETIC.value)
    values.setdefault("direction", grid.Direction.LONG.value)
    return values


def int_or_404(raw: str) -> int:
    try:
        return int(raw)
    except ValueError:
        raise Http404("No such bot.") from None


def _complete(values: dict[str, Any]) -> bool:
    return all(values.get(name) not in (None, "") for name in ("lower_price", "upper_price", "investment"))


def _as_data(form: MarketForm, initial: dict[str, Any]) -> dict[str, Any]:
    """The initial values as submitted data, with the account and symbol the form settled on."""
    data = {key: str(value) for key, value in initial.items()}
    if form.chosen_account is not None:
        data["account"] = str(form.chosen_account.pk)
    if form.chosen_symbol:
        data["symbol"] = form.chosen_symbol
    return data


def _with_auto_range(user: User, initial: dict[str, Any]) -> tuple[dict[str, Any], str]:
    form = BotForm(user, initial=initial)
    market = load_market(form)
    if market is None or market.instrument is None or market.price is None:
        return initial, (market.error if market and market.error else "Choose an account and a symbol first.")
    try:
        suggestion = ranges.suggest_range(
            [candle.close for candle in market.candles],
            market.price,
            market.instrument.tick_size,
            market.instrument.maker_fee,
        )
    except ranges.NotEnoughData as exc:
        return initial, str(exc)
    grid_count = _affordable_grids(initial, market, suggestion)
    updated = {
        **initial,
        "symbol": market.symbol,
        "lower_price": suggestion.lower_price,
        "upper_price": suggestion.upper_price,
        "grid_count": grid_count,
    }
    window = int(CHART_WINDOW.total_seconds() // 3600)
    return updated, (
        f"Suggested from the last {window} hours of {CHART_INTERVAL} candles: "
        f"a band of ±{ranges.DEFAULT_BAND_WIDTH} standard deviations of the price's moves "
        f"(volatility {(suggestion.volatility * 100).quantize(Decimal('0.01'))}% per candle)."
    )


def _affordable_grids(initial: dict[str, Any], market: Market, suggestion: ranges.RangeSuggestion) -> int:
    """Fewer grids when the investment typed so far cannot fund the suggested count."""
    assert market.instrument is not None
    assert market.price is not None
    try:
        investment = Decimal(str(initial.get("investment", "")))
    except ArithmeticError:
        return suggestion.grid_count
    if not investment.is_finite() or investment <= 0:
        return suggestion.grid_count
    config = grid.GridConfig(
        symbol=market.symbol,
        lower_price=suggestion.lower_price,
        upper_price=suggestion.upper_price,
        grid_count=suggestion.grid_count,
        investment=investment,
    )
    return grid.max_grids_for(config, market.instrument, market.price) or suggestion.grid_count


def _edit(request: HttpRequest, form: BotForm) -> HttpResponse:
    market = load_market(form)
    return render(request, TEMPLATE, _context(form, run_preview(form, market), market))


def _review(request: HttpRequest, form: BotForm) -> HttpResponse:
    """Submitting the form shows the risks; nothing is created until they are confirmed, and
    nothing the account cannot fund reaches the confirmation."""
    market = load_market(form, fresh_balances=True)
    preview = run_preview(form, market)
    if preview.result is not None and preview.result.funds.short:
        form.add_error("investment", preview.result.funds.message)
        return render(request, TEMPLATE, _context(form, preview, market), status=400)
    if preview.result is None or form.chosen_account is None:
        return render(request, TEMPLATE, _context(form, preview, market), status=400)
    token = _remember_review(request, form)
    context = _context(
        form, preview, market, step="confirm", token=token, venue_warning=venue_warning(form.chosen_account)
    )
    return render(request, TEMPLATE, context)


def venue_warning(account: ExchangeAccount) -> str:
    """What confirming will do, in words that do not understate it."""
    if account.exchange == ExchangeName.PAPER:
        return f"Orders will be placed on your paper account “{account.label}”: virtual funds, no real money."
    return f"Real orders will be placed on {account.venue_label} with your account “{account.label}”."


def _remember_review(request: HttpRequest, form: BotForm) -> str:
    assert form.chosen_account is not None
    return remember_review(request, form.chosen_account, form.bot_name(), form.config())


def remember_review(
    request: HttpRequest, account: ExchangeAccount, name: str, config: Any, strategy: str = registry.DEFAULT
) -> str:
    """The reviewed config waits in the session under a one-time token the confirmation spends."""
    token = secrets.token_urlsafe(16)
    reviews = dict(request.session.get(REVIEWS_SESSION_KEY, {}))
    reviews[token] = {
        "account": account.pk,
        "name": name,
        "strategy": strategy,
        "config": registry.strategy_named(strategy).config_to_json(config),
    }
    request.session[REVIEWS_SESSION_KEY] = dict(list(reviews.items())[-REVIEWS_KEPT:])
    return token


def _claim_key(token: str) -> str:
    return f"bot-wizard:confirm:{token}"


def release_claim(token: str) -> None:
    """The review may be confirmed again: its checks failed and the trader is sent back to edit."""
    cache.delete(_claim_key(token))


def _confirm(request: HttpRequest) -> HttpResponse:
    """Create and start the reviewed bot once, however many times the button is pressed.

    The token is claimed with an atomic cache `add`: of two concurrent confirmations exactly
    one creates the bot; the other is sent to it."""
    token = request.POST.get("token", "")
    review = claim_review(request, token)
    if review is None:
        return _already_confirmed(request, token)
    account = get_object_or_404(ExchangeAccount.objects.owned_by(_user(request)), pk=review["account"])
    config = codec.config_from_json(review["config"])
    try:
        price = actions.check_bot_config(account, config)
        actions.check_bot_funds(account, config, price)
    except (grid.GridConfigError, ExchangeError) as exc:
        release_claim(token)
        return _changed_since_review(request, account, review["name"], config, exc)
    return create_and_start(request, token, account, review["name"], config, price)


def claim_review(request: HttpRequest, token: str, strategy: str = registry.DEFAULT) -> dict[str, Any] | None:
    """The review `token` names, claimed for this confirmation with an atomic cache `add`; None
    when there is none of `strategy`, or another confirmation claimed it first."""
    review = request.session.get(REVIEWS_SESSION_KEY, {}).get(token) if token else None
    if not isinstance(review, dict) or review.get("strategy", registry.DEFAULT) != strategy:
        return None
    if not cache.add(_claim_key(token), CLAIMED, CLAIM_SECONDS):
        return None
    return review


def create_and_start(
    request: HttpRequest,
    token: str,
    account: ExchangeAccount,
    name: str,
    config: Any,
    price: Decimal,
    strategy: str = registry.DEFAULT,
) -> HttpResponse:
    """The checked config becomes a bot, started at once unless the plan or the risk rules refuse."""
    bot = actions.do_create_bot(_user(request), account, name, config, price, strategy=strategy)
    cache.set(_claim_key(token), bot.pk, CLAIM_SECONDS)
    _forget_review(request, token)
    try:
        actions.do_start_bot(bot)
    except PlanLimitReached as exc:
        refuse(request, exc)
        messages.info(request, f"“{bot.name}” is saved as a draft: start it once your plan has room.")
        return HttpResponseRedirect(bot_url(bot.pk))
    except RiskLimitReached as exc:
        messages.error(request, str(exc))
        messages.info(request, f"“{bot.name}” is saved as a draft: start it once your risk rules allow.")
        return HttpResponseRedirect(bot_url(bot.pk))
    messages.success(request, f"“{bot.name}” is created and starting.")
    return HttpResponseRedirect(bot_url(bot.pk))


def _forget_review(request: HttpRequest, token: str) -> None:
    reviews = dict(request.session.get(REVIEWS_SESSION_KEY, {}))
    reviews.pop(token, None)
    request.session[REVIEWS_SESSION_KEY] = reviews


def _already_confirmed(request: HttpRequest, token: str) -> HttpResponse:
    claimed = already_claimed(request, token)
    if claimed is not None:
        return claimed
    form = BotForm(_user(request), request.POST)
    market = load_market(form)
    return render(request, TEMPLATE, _context(form, run_preview(form, market), market), status=400)


def already_claimed(request: HttpRequest, token: str) -> HttpResponse | None:
    """Where a confirmation whose review is spent goes: to the bot it created, or home while
    another confirmation creates it. None (with a message) when the review expired."""
    claimed = cache.get(_claim_key(token)) if token else None
    if isinstance(claimed, int) and Bot.objects.owned_by(_user(request)).filter(pk=claimed).exists():
        return HttpResponseRedirect(bot_url(claimed))
    if claimed == CLAIMED:
        messages.info(request, "This bot is already being created.")
        return redirect("home")
    messages.error(request, "That review has expired. Check the bot's settings and review them again.")
    return None


def _changed_since_review(
    request: HttpRequest, account: ExchangeAccount, name: str, config: grid.GridConfig, error: Exception
) -> HttpResponse:
    """The market moved (or the venue failed) between review and confirmation."""
    form = BotForm(_user(request), {**initial_from_config(account, name, config)})
    form.is_valid()
    if isinstance(error, grid.GridConfigError):
        form.add_config_errors(error)
    elif isinstance(error, ExchangeError):
        form.add_error(None, venue_message(account, error))
    context = _context(form, Preview(), load_market(form))
    return render(request, TEMPLATE, context, status=400)


def bot_url(bot_id: int) -> str:
    try:
        return reverse("bot_detail", args=[bot_id])
    except NoReverseMatch:
        return f"/bots/{bot_id}/"
