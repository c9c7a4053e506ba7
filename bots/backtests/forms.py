"""The backtest page's form: a strategy (a grid, a DCA bot or a futures grid), its settings, a
symbol and a window.

The grid fields are the create-bot form's own (labels, limits, help); the DCA fields are the DCA
bot's settings as the API takes them; a futures grid's are the grid's range fields with its
margin, leverage and mode. The form holds the chosen strategy's fields only, and the
request is checked by `bots.backtests.actions.check_backtest`, the function the API calls."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxValueValidator
from django.utils import timezone

from bots.backtest import optimise
from bots.backtests.actions import BacktestConfig, BacktestError, grid_search
from bots.backtests.candles import Window, find_source, spans_on_hand
from bots.forms import BotForm, grid_config_from, with_default_choices
from bots.strategies import dca, futures_grid, grid
from exchanges.market_data import intervals
from exchanges.paper.instruments import INSTRUMENTS

GRID_FIELDS = (
    "lower_price",
    "upper_price",
    "grid_count",
    "spacing",
    "direction",
    "investment",
    "trigger_price",
)
DCA_FIELDS = (
    "direction",
    "base_order_size",
    "base_order_type",
    "safety_order_size",
    "price_deviation",
    "step_scale",
    "volume_scale",
    "max_safety_orders",
    "max_active_safety_orders",
    "take_profit",
    "take_profit_on",
    "trailing_deviation",
    "stop_loss",
)
FUTURES_FIELDS = (
    "mode",
    "lower_price",
    "upper_price",
    "grid_count",
    "spacing",
    "investment",
    "leverage",
)
STRATEGY_CHOICES = ((grid.GRID.name, "Grid"), (dca.DCA.name, "DCA"), (futures_grid.NAME, "Futures grid"))
DEFAULT_SYMBOL = "BTCUSDT"
DEFAULT_INTERVAL = "1h"
DEFAULT_DAYS = 30
# Keys of a refusal that have no field of their own on this form.
_NON_FIELD_KEYS = ("config", "config.reference_price", "config.symbol_filters")


def _amount_field(label: str, help_text: str, *, required: bool = True) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal(0),
        max_digits=32,
        decimal_places=12,
        help_text=help_text,
    )


def _percent_field(label: str, help_text: str, *, required: bool = True) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=required,
        min_value=Decimal(0),
        max_digits=16,
        decimal_places=8,
        help_text=help_text,
    )


def _scale_field(label: str, help_text: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        required=False,
        min_value=Decimal(0),
        max_digits=12,
        decimal_places=6,
        initial=1,
        help_text=help_text,
    )


def _count_field(label: str, help_text: str, *, required: bool = True) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=required,
        min_value=1,
        max_value=dca.MAX_SAFETY_ORDERS,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


# A DCA bot's settings in a trader's words; the rules beyond the types are `dca.validate`'s.
DCA_FORM_FIELDS: dict[str, forms.Field] = {
    "direction": forms.ChoiceField(
        label="Direction",
        choices=[
            (dca.Direction.LONG.value, "Long: buy the dips, sell higher (spends quote)"),
            (dca.Direction.SHORT.value, "Short: sell the rallies, buy back lower (spends base)"),
        ],
        initial=dca.Direction.LONG.value,
        required=False,
    ),
    "base_order_size": _amount_field(
        "Base order size",
        "The first order of each deal, at market, in the quote currency (e.g. USDT).",
    ),
    "base_order_type": forms.ChoiceField(
        label="Base order type",
        choices=[(dca.BaseOrderType.MARKET.value, "Market"), (dca.BaseOrderType.LIMIT.value, "Limit")],
        initial=dca.BaseOrderType.MARKET.value,
        required=False,
        help_text="Market fills at once; limit rests one tick better and the deal opens when it fills.",
    ),
    "safety_order_size": _amount_field(
        "Safety order size", "The first safety order, in the quote currency; it buys more as the price falls."
    ),
    "price_deviation": _percent_field(
        "Price deviation (%)", "How far the price moves against the deal before the first safety order fills."
    ),
    "step_scale": _scale_field(
        "Step scale", "Each gap to the next safety order is this many times the last; 1 keeps them even."
    ),
    "volume_scale": _scale_field(
        "Volume scale", "Each safety order is this many times the last in size; 1 keeps them equal."
    ),
    "max_safety_orders": _count_field(
        "Max safety orders", f"How many safety orders one deal may fill, 1 to {dca.MAX_SAFETY_ORDERS}."
    ),
    "max_active_safety_orders": _count_field(
        "Max active safety orders",
        "How many of them rest on the book at once; leave empty for all of them.",
        required=False,
    ),
    "take_profit": _percent_field(
        "Take profit (%)", "The deal closes this far above its average entry (below, short)."
    ),
    "take_profit_on": forms.ChoiceField(
        label="Take profit on",
        choices=[
            (dca.TakeProfitOn.TOTAL.value, "Total: everything the deal bought"),
            (dca.TakeProfitOn.BASE.value, "Base: the base order only"),
        ],
        initial=dca.TakeProfitOn.TOTAL.value,
        required=False,
    ),
    "trailing_deviation": _percent_field(
        "Trailing deviation (%)",
        "Optional: once the take profit is reached, follow the price and close on a turn this large.",
        required=False,
    ),
    "stop_loss": _percent_field(
        "Stop loss (%)",
        "Optional: close the deal at market this far below its average entry (above, short).",
        required=False,
    ),
}


# A futures grid's own settings; the range fields are the grid's. The rules are `futures_grid.validate`'s.
FUTURES_FORM_FIELDS: dict[str, forms.Field] = {
    "mode": forms.ChoiceField(
        label="Mode",
        choices=[
            (futures_grid.Mode.LONG.value, "Long: opens a long at the start, the sells above close it"),
            (futures_grid.Mode.SHORT.value, "Short: opens a short at the start, the buys below close it"),
            (futures_grid.Mode.NEUTRAL.value, "Neutral: starts flat, longs below the price, shorts above"),
        ],
        initial=futures_grid.Mode.LONG.value,
        required=False,  # left out: long
    ),
    "investment": _amount_field("Margin (USDT)", "The isolated margin the grid's positions may use."),
    "leverage": forms.DecimalField(
        label="Leverage",
        min_value=Decimal(0),
        max_digits=6,
        decimal_places=2,
        initial=5,
        help_text="From 1x; each move of 1/leverage against the position loses its margin.",
    ),
}


class BacktestForm(forms.Form):
    rerun_fields = GRID_FIELDS

    strategy = forms.ChoiceField(
        label="Strategy",
        choices=STRATEGY_CHOICES,
        initial=grid.GRID.name,
        required=False,  # a form without it is a grid's, as before DCA backtests
        widget=forms.HiddenInput,
    )
    symbol = forms.ChoiceField(label="Symbol")
    interval = forms.ChoiceField(
        label="Candles", choices=[(width, width) for width in intervals.WIDTHS], initial=DEFAULT_INTERVAL
    )
    start = forms.DateField(
        label="From (UTC)", widget=forms.DateInput(attrs={"type": "date"}), help_text="Included, from 00:00."
    )
    end = forms.DateField(
        label="Until (UTC)",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Excluded: up to 00:00.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.strategy_name = self._chosen_strategy()
        if self.strategy_name == dca.DCA.name:
            for name in DCA_FIELDS:
                self.fields[name] = DCA_FORM_FIELDS[name].__deepcopy__({})
        elif self.strategy_name == futures_grid.NAME:
            for name in FUTURES_FIELDS:
                field = FUTURES_FORM_FIELDS.get(name) or BotForm.base_fields[name]
                self.fields[name] = field.__deepcopy__({})
        else:
            for name in GRID_FIELDS:
                self.fields[name] = BotForm.base_fields[name].__deepcopy__({})
        symbol_field = self.fields["symbol"]
        assert isinstance(symbol_field, forms.ChoiceField)
        symbol_field.choices = [(symbol, symbol) for symbol in sorted(INSTRUMENTS)]
        if not self.is_bound:
            self.initial.setdefault("symbol", DEFAULT_SYMBOL)
            self.initial.setdefault("grid_count", 10)
            self.initial["strategy"] = self.strategy_name
            if "start" not in self.initial and "end" not in self.initial:
                self.initial.update(default_window(self.initial["symbol"]))

    def _chosen_strategy(self) -> str:
        """The strategy whose fields the form holds: the one posted or asked for, else the grid."""
        source = self.data if self.is_bound else self.initial
        chosen = source.get("strategy")
        return chosen if chosen in (dca.DCA.name, futures_grid.NAME) else grid.GRID.name

    def clean(self) -> dict[str, Any]:
        return with_default_choices(self, super().clean() or {})

    def config(self) -> BacktestConfig:
        if self.strategy_name == dca.DCA.name:
            return self._dca_config()
        if self.strategy_name == futures_grid.NAME:
            chosen = {name: self.cleaned_data.get(name) for name in FUTURES_FIELDS}
            given = {name: value for name, value in chosen.items() if value not in (None, "")}
            return futures_grid.config_from_json({**given, "symbol": self.cleaned_data["symbol"]})
        return grid_config_from(self.cleaned_data)

    def _dca_config(self) -> dca.DcaConfig:
        """Empty optional fields keep the strategy's defaults (scales of 1, take profit on total)."""
        given = {name: self.cleaned_data.get(name) for name in DCA_FIELDS}
        chosen = {name: value for name, value in given.items() if value not in (None, "")}
        return dca.config_from_json({**chosen, "symbol": self.cleaned_data["symbol"]})

    def window(self) -> tuple[str, datetime, datetime]:
        data = self.cleaned_data
        return data["interval"], _midnight(data["start"]), _midnight(data["end"])

    def add_refusal(self, refusal: BacktestError) -> None:
        """The checks' messages beside the fields they name (`config.lower_price` → lower price)."""
        for key, messages in refusal.fields.items():
            name = key.removeprefix("config.")
            field = name if name in self.fields and key not in _NON_FIELD_KEYS else None
            for message in messages:
                self.add_error(field, message)


def default_window(symbol: str) -> dict[str, Any]:
    """The newest DEFAULT_DAYS of the finest series on hand, so the first run finds candles; the
    last DEFAULT_DAYS up to today when there are none (the refusal then says what is on hand)."""
    spans = spans_on_hand(symbol)
    if not spans:
        today = timezone.now().date()
        return {"interval": DEFAULT_INTERVAL, "start": today - timedelta(days=DEFAULT_DAYS), "end": today}
    finest = spans[0]
    end = finest.last.date()  # the window ends at its 00:00, so the last day's candles stay out
    start = max(finest.first.date() + timedelta(days=1), end - timedelta(days=DEFAULT_DAYS))
    return {"interval": finest.interval, "start": start, "end": end}


# Around the window's first price: lower bounds below it, upper bounds above, so the first search a
# trader starts covers grids that trade from the start.
BOUND_SHARES = {
    "lower_price_min": Decimal("0.85"),
    "lower_price_max": Decimal("0.97"),
    "upper_price_min": Decimal("1.03"),
    "upper_price_max": Decimal("1.15"),
}


def default_bounds(initial: Mapping[str, Any]) -> dict[str, Decimal]:
    try:
        window = Window.of(initial["interval"], _midnight(initial["start"]), _midnight(initial["end"]))
    except (KeyError, TypeError, ValueError, OverflowError):
        return {}
    source = find_source(initial["symbol"], window)
    if source is None:
        return {}
    price = source.first_open
    places = Decimal(1) if price >= 100 else Decimal("0.0001")
    return {name: (price * share).quantize(places) for name, share in BOUND_SHARES.items()}


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


# Parameter optimisation ---------------------------------------------------------------------------

OBJECTIVES = (
    (optimise.Objective.TOTAL_RETURN.value, "Return"),
    (optimise.Objective.RETURN_OVER_DRAWDOWN.value, "Return ÷ drawdown"),
    (optimise.Objective.SHARPE.value, "Sharpe"),
)
DEFAULT_RUNS = 200
DEFAULT_TRAIN_PERCENT = 70
SHOWN_TOP = 10
# Keys of the checks' refusals and the page field that shows them.
_OPTIMISE_FIELDS = {
    "bounds.lower_price": "lower_price_max",
    "bounds.upper_price": "upper_price_max",
    "bounds.grid_count": "grid_count_max",
    "runs": "runs",
    "steps": "runs",
    "config.investment": "investment",
    "config.trigger_price": "trigger_price",
}


def _price_field(label: str, help_text: str = "") -> forms.DecimalField:
    return forms.DecimalField(
        label=label, min_value=Decimal("0.00000001"), max_digits=28, decimal_places=12, help_text=help_text
    )


class OptimisationForm(forms.Form):
    """A random search over the grid's range, count, spacing and direction. Checked by
    `bots.backtests.actions.check_optimisation`, as the API's POST /api/v1/backtests/optimize/ is."""

    strategy = forms.ChoiceField(label="Strategy", choices=[("grid", "Spot grid")], initial="grid")
    symbol = forms.ChoiceField(label="Symbol")
    interval = forms.ChoiceField(
        label="Candles", choices=[(width, width) for width in intervals.WIDTHS], initial=DEFAULT_INTERVAL
    )
    start = forms.DateField(
        label="From (UTC)", widget=forms.DateInput(attrs={"type": "date"}), help_text="Included, from 00:00."
    )
    end = forms.DateField(
        label="Until (UTC)",
        widget=forms.DateInput(attrs={"type": "date"}),
        help_text="Excluded: up to 00:00.",
    )
    lower_price_min = _price_field("Lower price from")
    lower_price_max = _price_field("Lower price to")
    upper_price_min = _price_field("Upper price from")
    upper_price_max = _price_field("Upper price to")
    grid_count_min = forms.IntegerField(
        label="Grids from", min_value=grid.MIN_GRIDS, max_value=grid.MAX_GRIDS
    )
    grid_count_max = forms.IntegerField(label="Grids to", min_value=grid.MIN_GRIDS, max_value=grid.MAX_GRIDS)
    spacings = forms.MultipleChoiceField(
        label="Spacing",
        choices=[(s.value, s.value.capitalize()) for s in grid.Spacing],
        widget=forms.CheckboxSelectMultiple,
        initial=[grid.Spacing.ARITHMETIC.value],
    )
    directions = forms.MultipleChoiceField(
        label="Direction",
        choices=[(d.value, d.value.capitalize()) for d in grid.Direction],
        widget=forms.CheckboxSelectMultiple,
        initial=[grid.Direction.LONG.value],
    )
    investment = _price_field("Investment", "In the quote asset, the same for every grid tried.")
    trigger_price = forms.DecimalField(
        label="Trigger price",
        required=False,
        min_value=Decimal("0.00000001"),
        max_digits=28,
        decimal_places=12,
    )
    objective = forms.ChoiceField(label="Rank by", choices=OBJECTIVES, initial=OBJECTIVES[0][0])
    train_percent = forms.IntegerField(
        label="Optimise on the first (%)",
        min_value=10,
        max_value=95,
        initial=DEFAULT_TRAIN_PERCENT,
        help_text="Walk-forward: the grids are ranked on this share of the window and then run on the "
        "rest, which they never saw.",
    )
    runs = forms.IntegerField(label="Runs", min_value=1, initial=DEFAULT_RUNS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        symbol_field = self.fields["symbol"]
        assert isinstance(symbol_field, forms.ChoiceField)
        symbol_field.choices = [(symbol, symbol) for symbol in sorted(INSTRUMENTS)]
        cap = settings.BACKTEST_MAX_RUNS
        self.fields[
            "runs"
        ].help_text = (
            f"Grids drawn at random within the bounds; at most {cap:,}. They do not count as backtests."
        )
        runs_field = self.fields["runs"]
        assert isinstance(runs_field, forms.IntegerField)
        runs_field.max_value = cap
        runs_field.validators.append(MaxValueValidator(cap))
        if not self.is_bound:
            self.initial.setdefault("symbol", DEFAULT_SYMBOL)
            self.initial.setdefault("grid_count_min", 10)
            self.initial.setdefault("grid_count_max", 60)
            self.initial.setdefault("investment", 1000)
            if "start" not in self.initial and "end" not in self.initial:
                self.initial.update(default_window(self.initial["symbol"]))
            if "lower_price_min" not in self.initial:
                self.initial.update(default_bounds(self.initial))

    def window(self) -> tuple[str, datetime, datetime]:
        data = self.cleaned_data
        return data["interval"], _midnight(data["start"]), _midnight(data["end"])

    def search(self) -> optimise.Search:
        data = self.cleaned_data
        return grid_search(
            data["symbol"],
            data["investment"],
            data.get("trigger_price"),
            optimise.Bounds(
                lower_price=(data["lower_price_min"], data["lower_price_max"]),
                upper_price=(data["upper_price_min"], data["upper_price_max"]),
                grid_count=(data["grid_count_min"], data["grid_count_max"]),
                spacings=tuple(grid.Spacing(value) for value in data["spacings"]),
                directions=tuple(grid.Direction(value) for value in data["directions"]),
            ),
            method=optimise.Method.RANDOM,
            runs=data["runs"],
            objective=optimise.Objective(data["objective"]),
            train_fraction=Decimal(data["train_percent"]) / 100,
            top=SHOWN_TOP,
        )

    def add_refusal(self, refusal: BacktestError) -> None:
        for key, messages in refusal.fields.items():
            name = _OPTIMISE_FIELDS.get(key, key.removeprefix("config."))
            field = name if name in self.fields else None
            for message in messages:
                self.add_error(field, message)
