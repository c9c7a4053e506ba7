"""Serializer fields every app's API shares.

Input fields are strict about JSON types: DRF's own turn `0` into `"0"` for a string, `0` or
`"yes"` into a boolean, and let Python's `Decimal` read `"1_000"` or Arabic-Indic and
full-width digits. A script that sends such a value has a bug; it gets a 400 naming the field.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)", re.ASCII)


class AmountField(serializers.DecimalField):
    """An exact decimal out as a plain string, never rounded; the database's trailing zeros
    dropped ("54000", not "54000.000000000000000000")."""

    def to_representation(self, value: Any) -> str:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        return format(number.normalize(), "f") if number else "0"


def amount(**kwargs: Any) -> serializers.DecimalField:
    return AmountField(max_digits=None, decimal_places=None, read_only=True, **kwargs)


class StrictDecimalField(serializers.DecimalField):
    """A JSON number, or a string of ASCII digits with an optional sign and point: "54000.5"."""

    default_error_messages = {"plain": "Enter a plain number, e.g. 54000 or 0.5."}

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, str | int | float | Decimal):
            self.fail("invalid")
        if isinstance(data, str) and not PLAIN_DECIMAL.fullmatch(data):
            self.fail("plain")
        return super().to_internal_value(data)


class ExactDecimalField(StrictDecimalField):
    """Checks digits like DecimalField but keeps the value as sent: "54000" stays 54000,
    not 54000.000000000000, so stored configs read as the trader wrote them."""

    def quantize(self, value: Decimal) -> Decimal:
        return value


NOT_A_STRING = "Must be a string."


class StrictCharField(serializers.CharField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError(NOT_A_STRING, code="invalid")
        return super().to_internal_value(data)


class StrictRegexField(serializers.RegexField):
    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError(NOT_A_STRING, code="invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON `true` or `false` only."""

    default_error_messages = {"invalid": "Must be true or false."}

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictDecimalFieldSchema(OpenApiSerializerFieldExtension):
    """The schema says what the field takes: at least one digit, no sign when negatives are
    refused, its digits before and after the point. drf-spectacular's own pattern allows ""."""

    target_class = StrictDecimalField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        schema: dict[str, Any] = auto_schema._map_serializer_field(
            self.target, direction, bypass_extensions=True
        )
        field: StrictDecimalField = self.target
        if field.max_whole_digits is None or field.decimal_places is None or "pattern" not in schema:
            return schema
        sign = "" if field.min_value is not None and field.min_value >= 0 else "-?"
        whole, places = field.max_whole_digits, field.decimal_places
        schema["pattern"] = rf"^{sign}(?:[0-9]{{1,{whole}}}(?:\.[0-9]{{0,{places}}})?|\.[0-9]{{1,{places}}})$"
        return schema
