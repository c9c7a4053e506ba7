"""The backtest page's form: the wizard's grid fields, a symbol and a window.

The grid fields are the create-bot form's own (labels, limits, help), and the request is checked
by `bots.backtests.actions.check_backtest`, the function the API calls."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django import forms
from django.utils import timezone

from bots.backtests.actions import BacktestError
from bots.backtests.candles import spans_on_hand
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


def _midnight(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)
