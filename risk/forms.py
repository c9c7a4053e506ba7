from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from risk.models import LossAction, RiskRules

EMPTY_IS_NO_LIMIT = "Leave empty for no limit."
ABOVE_ZERO = "Enter an amount above zero, or leave it empty for no limit."


class RiskRulesForm(forms.ModelForm):
    daily_loss_limit = forms.DecimalField(
        required=False,
        max_digits=30,
        decimal_places=8,
        label="Daily loss limit",
        help_text=(
            "In your bots' quote asset (e.g. USDT), realised plus unrealised since midnight in your time "
            f"zone, across all bots. {EMPTY_IS_NO_LIMIT}"
        ),
        error_messages={"invalid": "Enter an amount, e.g. 250 or 99.5."},
    )
    daily_loss_action = forms.ChoiceField(
        choices=LossAction.choices, widget=forms.RadioSelect, label="When it is reached"
    )
    max_total_investment = forms.DecimalField(
        required=False,
        max_digits=30,
        decimal_places=8,
        label="Maximum total investment",
        help_text=(
            f"The investments of your running bots added up; a start above it is refused. {EMPTY_IS_NO_LIMIT}"
        ),
        error_messages={"invalid": "Enter an amount, e.g. 5000."},
    )
    max_bots_per_symbol = forms.IntegerField(
        required=False,
        label="Maximum running bots per symbol",
        help_text=f"A start above it on the same symbol (e.g. BTCUSDT) is refused. {EMPTY_IS_NO_LIMIT}",
        error_messages={"invalid": "Enter a whole number, e.g. 2."},
    )

    max_leverage = forms.IntegerField(
        required=False,
        label="Maximum leverage (futures)",
        help_text=f"The highest leverage a futures grid may use, e.g. 5. {EMPTY_IS_NO_LIMIT}",
        error_messages={"invalid": "Enter a whole number, e.g. 5."},
    )

    class Meta:
        model = RiskRules
        fields = (
            "daily_loss_limit",
            "daily_loss_action",
            "max_total_investment",
            "max_bots_per_symbol",
            "max_leverage",
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name in ("daily_loss_limit", "max_total_investment"):
            stored = self.initial.get(name)
            if isinstance(stored, Decimal):
                self.initial[name] = format(stored.normalize(), "f")  # 250, not 250.00000000

    def _positive(self, name: str) -> Decimal | None:
        value: Decimal | None = self.cleaned_data.get(name)
        if value is not None and value <= 0:
            raise forms.ValidationError(ABOVE_ZERO)
        return value

    def clean_daily_loss_limit(self) -> Decimal | None:
        return self._positive("daily_loss_limit")

    def clean_max_total_investment(self) -> Decimal | None:
        return self._positive("max_total_investment")

    def clean_max_bots_per_symbol(self) -> int | None:
        value: int | None = self.cleaned_data.get("max_bots_per_symbol")
        if value is not None and value < 1:
            raise forms.ValidationError("Enter 1 or more, or leave it empty for no limit.")
        return value

    def clean_max_leverage(self) -> int | None:
        value: int | None = self.cleaned_data.get("max_leverage")
        if value is not None and value < 1:
            raise forms.ValidationError("Enter 1 or more, or leave it empty for no limit.")
        return value

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class KillSwitchForm(forms.Form):
    confirm = forms.BooleanField(
        label="Yes, stop all my bots now and cancel their open orders",
        error_messages={"required": "Tick the box to confirm: the kill switch stops every bot at once."},
    )
    sell_base = forms.BooleanField(required=False, label="Also sell the base asset each bot holds, at market")
