"""Form fields for money: they read what the product prints (trading.numbers)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.exceptions import ValidationError

from trading.numbers import NumberFormatError, exact, parse

# A text box, not type="number": browsers refuse "22,000" in a number input, and the product
# prints amounts that way. The keyboard phones show is still a numeric one.
DECIMAL_ATTRS = {"inputmode": "decimal", "autocomplete": "off", "spellcheck": "false"}


class DecimalInput(forms.TextInput):
    def format_value(self, value: Any) -> str | None:
        # A value the form holds as a Decimal is shown in full, never as 5.4E+4.
        return exact(value) if isinstance(value, Decimal) else super().format_value(value)


class DecimalField(forms.DecimalField):
    """A price or amount as traders write it and the product prints it: "22,000", "22 000.5",
    "22000.5". "1,5" is refused as ambiguous, with a message saying how to write it."""

    widget = DecimalInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("widget", DecimalInput(attrs=DECIMAL_ATTRS))
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> Decimal | None:  # type: ignore[override]  # django-stubs: IntegerField's
        if value in self.empty_values:
            return None
        if isinstance(value, Decimal):
            return value
        try:
            return parse(str(value))
        except NumberFormatError as error:
            raise ValidationError(str(error), code="invalid") from error

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        # Django's adds a `step` for number inputs; a text box has none.
        return forms.Field.widget_attrs(self, widget)
