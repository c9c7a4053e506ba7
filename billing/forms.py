"""The card page's form (used only against localstripe: in production Stripe Checkout takes the card)."""

from __future__ import annotations

import re
from typing import Any

from django import forms
from django.utils import timezone

from billing.stripe_api import Card


def luhn_ok(digits: str) -> bool:
    total = 0
    for index, char in enumerate(reversed(digits)):
        value = int(char) * (2 if index % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


class CardForm(forms.Form):
    number = forms.CharField(
        label="Card number",
        max_length=23,
        widget=forms.TextInput(
            attrs={"autocomplete": "cc-number", "inputmode": "numeric", "placeholder": "4242 4242 4242 4242"}
        ),
    )
    expiry = forms.CharField(
        label="Expiry (MM/YY)",
        max_length=7,
        widget=forms.TextInput(
            attrs={"autocomplete": "cc-exp", "inputmode": "numeric", "placeholder": "12/30"}
        ),
    )
    cvc = forms.CharField(
        label="CVC",
        max_length=4,
        widget=forms.TextInput(
            attrs={"autocomplete": "cc-csc", "inputmode": "numeric", "placeholder": "123"}
        ),
    )

    def clean_number(self) -> str:
        digits = re.sub(r"[\s-]", "", self.cleaned_data["number"])
        if not digits.isdigit() or len(digits) != 16:
            raise forms.ValidationError("Enter the 16 digits of the card number.")
        if not luhn_ok(digits):
            raise forms.ValidationError("This card number is not valid: check the digits.")
        return digits

    def clean_expiry(self) -> tuple[int, int]:
        match = re.fullmatch(r"\s*(\d{1,2})\s*/\s*(\d{2}|\d{4})\s*", self.cleaned_data["expiry"])
        if not match:
            raise forms.ValidationError("Enter the expiry as MM/YY, e.g. 12/30.")
        month, year = int(match[1]), int(match[2])
        year = year + 2000 if year < 100 else year
        if not 1 <= month <= 12:
            raise forms.ValidationError("The month must be between 01 and 12.")
        today = timezone.now()
        if (year, month) < (today.year, today.month):
            raise forms.ValidationError("This card has expired.")
        return month, year

    def clean_cvc(self) -> str:
        cvc = self.cleaned_data["cvc"].strip()
        if not cvc.isdigit() or len(cvc) not in (3, 4):
            raise forms.ValidationError("Enter the 3 or 4 digits on the back of the card.")
        return cvc

    def card(self) -> Card:
        data: dict[str, Any] = self.cleaned_data
        month, year = data["expiry"]
        return Card(number=data["number"], exp_month=month, exp_year=year, cvc=data["cvc"])
