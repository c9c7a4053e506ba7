"""The backtest page's form: the wizard's grid fields, a symbol and a window.

The grid fields are the create-bot form's own (labels, limits, help), and the request is checked
by `bots.backtests.actions.check_backtest`, the function the API calls."""

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
from bots.backtests.actions import BacktestError, grid_search
from bots.backtests.candles import Window, find_source, spans_on_hand
from bots.forms import BotForm, grid_config_from, with_default_choices
from bots.strategies import grid
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
DEFAULT_SYMBOL = "BTCUSDT"
DEFAULT_INTERVAL = "1h"
DEFAULT_DAYS = 30
# Keys of a refusal that have no field of their own on this form.
_NON_FIELD_KEYS = ("config", "config.reference_price", "config.symbol_filters")


class BacktestForm(forms.Form):
    rerun_fields = GRID_FIELDS

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
        for name in GRID_FIELDS:
            self.fields[name] = BotForm.base_fields[name].__deepcopy__({})
        symbol_field = self.fields["symbol"]
        assert isinstance(symbol_field, forms.ChoiceField)
        symbol_field.choices = [(symbol, symbol) for symbol in sorted(INSTRUMENTS)]
        if not self.is_bound:
            self.initial.setdefault("symbol", DEFAULT_SYMBOL)
            self.initial.setdefault("grid_count", 10)
            if "start" not in self.initial and "end" not in self.initial:
                self.initial.update(default_window(self.initial["symbol"]))

    def clean(self) -> dict[str, Any]:
        return with_default_choices(self, super().clean() or {})

    def config(self) -> grid.GridConfig:
        return grid_config_from(self.cleaned_data)

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
