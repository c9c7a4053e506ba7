"""Asking for a backtest and cancelling one: `check_*` refuses bad requests, `do_*` writes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from billing import entitlements
from bots.backtest import optimise
from bots.backtests.candles import Source, Window, find_source, on_hand_sentence
from bots.backtests.live import publish_progress
from bots.backtests.models import UNFINISHED, Backtest, BacktestStatus, Optimisation
from bots.futures_previews import listed_perpetual
from bots.strategies import dca, futures_grid, grid
from bots.strategies.base import ConfigError
from bots.strategies.registry import strategy_named
from exchanges.base import Instrument, InvalidOrder
from exchanges.paper import instruments as paper_instruments
from exchanges.paper.instruments import INSTRUMENTS
from risk.actions import server_leverage_cap

# Exits the exact backtester does not simulate yet (bots/backtest/exact.py refuses them).
UNSIMULATED_EXITS = ("take_profit_price", "stop_loss_price", "max_drawdown")
# A futures grid's backtest starts at the window's first open and takes no exit yet.
# The futures backtest runs the grid from its first candle to its last or a liquidation: a
# setting it would not honour is refused rather than left out of its figures.
UNSIMULATED_FUTURES = (
    "trigger_price",
    "take_profit_price",
    "stop_loss_price",
    "take_profit_percent",
    "stop_loss_percent",
    "liquidation_stop_distance",
)

BacktestConfig = grid.GridConfig | dca.DcaConfig | futures_grid.FuturesGridConfig


class BacktestError(Exception):
    """A backtest that cannot be run or changed as asked; `fields` name what to fix."""

    def __init__(self, fields: dict[str, list[str]]) -> None:
        super().__init__("; ".join(message for messages in fields.values() for message in messages))
        self.fields = fields


class BacktestFinished(Exception):
    pass


@dataclass(frozen=True)
class BacktestPlan:
    config: BacktestConfig
    window: Window
    start: datetime
    end: datetime
    source: Source

    @property
    def strategy(self) -> str:
        if isinstance(self.config, futures_grid.FuturesGridConfig):
            return futures_grid.NAME
        return dca.DCA.name if isinstance(self.config, dca.DcaConfig) else grid.GRID.name


def instrument_for(symbol: str) -> Instrument | None:
    return INSTRUMENTS.get(symbol)


def check_backtest(
    config: BacktestConfig,
    interval: str,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
) -> BacktestPlan:
    """Everything wrong with a request, by field (the strategy's own fields under `config.`):
    a grid's or a DCA bot's settings, checked as the strategy checks them at the price it
    would start at in the window; a futures grid's on the symbol's perpetual at the window's first
    price."""
    if isinstance(config, futures_grid.FuturesGridConfig):
        return _check_futures(config, interval, start, end, now=now)
    if isinstance(config, dca.DcaConfig):
        window, source = check_window(config.symbol, interval, start, end, now=now)
        _check_config(lambda: dca.validate(config, _instrument(config.symbol), _dca_start(config, source)))
        return BacktestPlan(config, window, start, end, source)
    _check_exits(config)
    window, source = check_window(config.symbol, interval, start, end, now=now)
    _check_config(
        lambda: grid.validate(config, _instrument(config.symbol), config.trigger_price or source.first_open)
    )
    return BacktestPlan(config, window, start, end, source)


def _check_futures(
    config: futures_grid.FuturesGridConfig,
    interval: str,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None,
) -> BacktestPlan:
    unsimulated = {
        _config_field(name): ["Futures backtests do not simulate this yet: leave it empty."]
        for name in UNSIMULATED_FUTURES
        if getattr(config, name) is not None
    }
    if unsimulated:
        raise BacktestError(unsimulated)
    window, source = check_window(config.symbol, interval, start, end, now=now)
    perpetual = perpetual_for(config.symbol)
    _check_config(
        # A backtest may explore up to the server's cap; a trader's own caps limit their bots.
        lambda: futures_grid.validate(
            config, perpetual, source.first_open, max_leverage=Decimal(server_leverage_cap().value)
        )
    )
    return BacktestPlan(config, window, start, end, source)


def perpetual_for(symbol: str) -> futures_grid.Perpetual:
    """The symbol's USDT perpetual as the paper venue lists it (Bybit's documented filters)."""
    try:
        return listed_perpetual(symbol, paper_instruments.linear_instrument_for(symbol))
    except (ConfigError, InvalidOrder):
        known = ", ".join(sorted(paper_instruments.LINEAR_INSTRUMENTS))
        raise BacktestError(
            {"symbol": [f"Futures backtests cover the {known} perpetual; {symbol} is not one of them."]}
        ) from None


def config_json(plan: BacktestPlan) -> dict[str, Any]:
    if isinstance(plan.config, futures_grid.FuturesGridConfig):
        return futures_grid.config_to_json(plan.config)
    return strategy_named(plan.strategy).config_to_json(plan.config)


def _check_config(validate: Callable[[], None]) -> None:
    try:
        validate()
    except ConfigError as exc:
        raise BacktestError({_config_field(name): messages for name, messages in exc.errors.items()}) from exc


def _dca_start(config: dca.DcaConfig, source: Source) -> Decimal:
    """Where the first deal would open: at its start price when it waits for one."""
    if config.start_condition is dca.StartCondition.PRICE and config.start_price:
        return config.start_price
    return source.first_open


def check_window(
    symbol: str,
    interval: str,
    start: datetime,
    end: datetime,
    *,
    now: datetime | None = None,
) -> tuple[Window, Source]:
    """The window's candles are stored (or shipped) and within the cap; the symbol is backtestable."""
    if end <= start:
        raise BacktestError({"end": ["The window ends before it starts: end must be after start."]})
    now = now or timezone.now()
    if end > now:
        raise BacktestError({"end": ["The window ends in the future: end it now at the latest."]})
    try:
        window = Window.of(interval, start, end)
    except OverflowError:
        raise BacktestError({"start": ["This date is out of the range candles are kept for."]}) from None
    if window.size <= 0:
        raise BacktestError({"end": [f"The window holds no whole {interval} candle: widen it."]})
    cap = settings.BACKTEST_MAX_CANDLES
    if window.size > cap:
        raise BacktestError(
            {
                "end": [
                    f"This window spans {window.size:,} {interval} candles; a backtest may cover at most "
                    f"{cap:,}. Shorten the window or use a longer interval."
                ]
            }
        )
    _instrument(symbol)
    source = find_source(symbol, window)
    if source is None:
        raise BacktestError(
            {
                "symbol": [
                    f"No {symbol} {interval} candles are on hand between {start:%Y-%m-%d %H:%M} and "
                    f"{end:%Y-%m-%d %H:%M} UTC. {on_hand_sentence(symbol)}"
                ]
            }
        )
    return window, source


def _instrument(symbol: str) -> Instrument:
    instrument = instrument_for(symbol)
    if instrument is None:
        raise BacktestError(
            {"symbol": [f"Backtests cover {', '.join(sorted(INSTRUMENTS))}; {symbol} is not one of them."]}
        )
    return instrument


def _check_exits(config: grid.GridConfig) -> None:
    unsimulated = {
        _config_field(name): ["Backtests do not simulate this exit yet: leave it empty."]
        for name in UNSIMULATED_EXITS
        if getattr(config, name) is not None
    }
    if unsimulated:
        raise BacktestError(unsimulated)


def _config_field(name: str) -> str:
    return "config" if name == "__all__" else f"config.{name}"


def do_create_backtest(owner: User, plan: BacktestPlan) -> Backtest:
    from bots.backtests.tasks import run_backtest

    with transaction.atomic():
        entitlements.lock_user(owner)
        entitlements.check_run_backtest(owner)
        backtest = Backtest.objects.create(
            owner=owner,
            strategy=plan.strategy,
            config=config_json(plan),
            symbol=plan.config.symbol,
            interval=plan.window.interval,
            start=plan.start,
            end=plan.end,
            venue=plan.source.venue,
        )
        transaction.on_commit(lambda: run_backtest.delay(backtest.pk))
    return backtest


def do_cancel_backtest(backtest: Backtest) -> Backtest:
    """A queued or running backtest stops; its partial results are not kept. Cancelling a
    cancelled one changes nothing; a finished one cannot be."""
    changed = Backtest.objects.filter(pk=backtest.pk, status__in=UNFINISHED).update(
        status=BacktestStatus.CANCELLED, finished_at=timezone.now()
    )
    backtest.refresh_from_db()
    if changed:
        publish_progress(backtest.owner_id, "backtest", backtest.pk)
    if not changed and backtest.status != BacktestStatus.CANCELLED:
        raise BacktestFinished(
            f"Backtest {backtest.pk} is {backtest.status}: "
            "only a queued or running backtest can be cancelled."
        )
    return backtest


# Parameter optimisation ---------------------------------------------------------------------------


@dataclass(frozen=True)
class OptimisationPlan:
    search: optimise.Search
    window: Window
    start: datetime
    end: datetime
    source: Source


def grid_search(
    symbol: str,
    investment: Decimal,
    trigger_price: Decimal | None,
    bounds: optimise.Bounds,
    **search: Any,
) -> optimise.Search:
    """The search a page's form or an API request asks for: each candidate keeps the symbol,
    investment and trigger; the rest (`method`, `runs`, `objective`, ...) as `optimise.Search`."""
    base = grid.GridConfig(
        symbol=symbol,
        lower_price=bounds.lower_price[0],
        upper_price=bounds.upper_price[1],
        grid_count=bounds.grid_count[0],
        investment=investment,
        trigger_price=trigger_price,
    )
    return optimise.Search(base=base, bounds=bounds, **search)


def check_optimisation(
    search: optimise.Search, interval: str, start: datetime, end: datetime, *, now: datetime | None = None
) -> OptimisationPlan:
    """Bounds that make sense and a search within BACKTEST_MAX_RUNS, before the window's checks."""
    _check_bounds(search.bounds)
    cap = settings.BACKTEST_MAX_RUNS
    if search.size > cap:
        field = "runs" if search.method is optimise.Method.RANDOM else "steps"
        raise BacktestError(
            {
                field: [
                    f"This search tries {search.size:,} grids; an optimisation may try at most {cap:,}. "
                    "Use fewer steps, fewer spacings or directions, or a random search with fewer runs."
                ]
            }
        )
    window, source = check_window(search.base.symbol, interval, start, end, now=now)
    if window.size < 2:
        raise BacktestError(
            {"end": ["Walk-forward validation needs at least two candles: widen the window."]}
        )
    return OptimisationPlan(search, window, start, end, source)


def _check_bounds(bounds: optimise.Bounds) -> None:
    errors: dict[str, list[str]] = {}
    for name in ("lower_price", "upper_price", "grid_count"):
        low, high = getattr(bounds, name)
        if low > high:
            label = name.replace("_", " ")
            errors[f"bounds.{name}"] = [f"The smallest {label} ({low}) is above the largest ({high})."]
    if bounds.lower_price[0] >= bounds.upper_price[1]:
        errors["bounds.upper_price"] = [
            "Every upper price would be at or below every lower price: raise the upper bounds."
        ]
    if not errors:
        return
    raise BacktestError(errors)


def do_create_optimisation(owner: User, plan: OptimisationPlan) -> Optimisation:
    from bots.backtests.optimise_run import search_to_json
    from bots.backtests.tasks import optimise_backtest

    with transaction.atomic():
        optimisation = Optimisation.objects.create(
            owner=owner,
            search=search_to_json(plan.search),
            symbol=plan.search.base.symbol,
            interval=plan.window.interval,
            start=plan.start,
            end=plan.end,
            venue=plan.source.venue,
            candidates=plan.search.size,
        )
        transaction.on_commit(lambda: optimise_backtest.delay(optimisation.pk))
    return optimisation


def do_cancel_optimisation(optimisation: Optimisation) -> Optimisation:
    """A queued or running optimisation stops: chunks still queued or scoring end without results."""
    changed = Optimisation.objects.filter(pk=optimisation.pk, status__in=UNFINISHED).update(
        status=BacktestStatus.CANCELLED, finished_at=timezone.now()
    )
    optimisation.refresh_from_db()
    if changed:
        publish_progress(optimisation.owner_id, "optimisation", optimisation.pk)
    if not changed and optimisation.status != BacktestStatus.CANCELLED:
        raise BacktestFinished(
            f"Optimisation {optimisation.pk} is {optimisation.status}: "
            "only a queued or running one can be cancelled."
        )
    return optimisation
