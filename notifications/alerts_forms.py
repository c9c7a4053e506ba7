"""The price alert form, for the page and (reused) the API: the same checks, the same words."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from django import forms

from accounts.models import User
from exchanges.base import ExchangeError, InvalidOrder, InvalidOrderReason
from exchanges.instruments import instrument_for
from exchanges.models import ExchangeAccount
from notifications import alerts
from notifications.events import CONFIGURABLE_CHANNELS
from notifications.models import AlertDirection, PriceAlert
from trading.numbers import plain

SYMBOL = re.compile(r"[A-Z0-9]{2,32}")
ALERT_FIELDS = ("exchange_account", "symbol", "direction", "price", "channels", "note")


class PriceAlertForm(forms.Form):
    exchange_account = forms.ModelChoiceField(
        queryset=ExchangeAccount.objects.none(),
        empty_label=None,  # the first account is chosen: most traders have one
        label="Exchange account",
        help_text="Whose market price counts.",
        error_messages={"invalid_choice": "Choose one of your exchange accounts."},
    )
    symbol = forms.CharField(
        max_length=32,
        label="Symbol",
        help_text="e.g. BTCUSDT",
        widget=forms.TextInput(attrs={"autocapitalize": "characters"}),
    )
    direction = forms.ChoiceField(choices=AlertDirection.choices, label="When the price")
    price = forms.DecimalField(
        max_digits=38,
        decimal_places=18,
        label="Price",
        error_messages={"invalid": "Enter a price, e.g. 70000 or 0.5."},
        widget=forms.TextInput(attrs={"inputmode": "decimal"}),
    )
    channels = forms.MultipleChoiceField(
        required=False,
        choices=[(channel.value, channel.label) for channel in CONFIGURABLE_CHANNELS],
        widget=forms.CheckboxSelectMultiple,
        label="Alert me by",
        help_text="None ticked: as your notification settings say for price alerts.",
    )
    note = forms.CharField(
        max_length=200, required=False, label="Note", help_text="Optional, shown in the alert."
    )
    fire_now = forms.BooleanField(
        required=False, label="Create it even if the price is already there (it fires at once)"
    )

    def __init__(self, *args: Any, user: User, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.user = user
        self.fields["exchange_account"].queryset = ExchangeAccount.objects.owned_by(user).order_by("label")  # type: ignore[attr-defined]
        self.current_price: Decimal | None = None

    def clean_symbol(self) -> str:
        symbol = self.cleaned_data["symbol"].strip().upper().replace("/", "").replace("-", "")
        if not SYMBOL.fullmatch(symbol):
            raise forms.ValidationError("Enter a symbol of letters and digits, e.g. BTCUSDT.")
        return symbol

    def clean_price(self) -> Decimal:
        price: Decimal = self.cleaned_data["price"]
        if price <= 0:
            raise forms.ValidationError("Enter a price above zero.")
        return price

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        if PriceAlert.objects.owned_by(self.user).count() >= alerts.MAX_ALERTS_PER_USER:
            raise forms.ValidationError(
                f"You have {alerts.MAX_ALERTS_PER_USER} price alerts, the most allowed: delete one first."
            )
        account, symbol = data["exchange_account"], data["symbol"]
        try:
            instrument_for(account, symbol, fail_fast=True)
            self.current_price = alerts.price_of(account, symbol)
        except InvalidOrder as exc:
            if exc.reason is not InvalidOrderReason.UNKNOWN_SYMBOL:
                raise
            self.add_error("symbol", f"{symbol} is not traded on {account.label}.")
            return data
        except ExchangeError:
            self.add_error(
                "symbol",
                f"{account.label} did not give a price for {symbol} just now; try again in a moment.",
            )
            return data
        self._check_not_met(data)
        return data

    def _check_not_met(self, data: dict[str, Any]) -> None:
        """An alert the price already meets would fire at once: said, and done only if confirmed."""
        probe = PriceAlert(direction=data["direction"], price=data["price"])
        if self.current_price is None or not probe.is_met(self.current_price) or data.get("fire_now"):
            return
        words = alerts.direction_words(data["direction"])
        self.add_error(
            "price",
            f"{data['symbol']} is at {plain(self.current_price)} now, "
            f"already {words} {plain(data['price'])}: "
            "this alert would fire at once. Change the price, or tick the box below to create it anyway.",
        )

    def values(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in ALERT_FIELDS}
