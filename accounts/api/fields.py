"""Serializer fields every app's API shares."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers


class AmountField(serializers.DecimalField):
    """An exact decimal out as a plain string, never rounded; the database's trailing zeros
    dropped ("54000", not "54000.000000000000000000")."""

    def to_representation(self, value: Any) -> str:
        number = value if isinstance(value, Decimal) else Decimal(str(value))
        return format(number.normalize(), "f") if number else "0"


def amount(**kwargs: Any) -> serializers.DecimalField:
    return AmountField(max_digits=None, decimal_places=None, read_only=True, **kwargs)


class ExactDecimalField(serializers.DecimalField):
    """Checks digits like DecimalField but keeps the value as sent: "54000" stays 54000,
    not 54000.000000000000, so stored configs read as the trader wrote them."""

    def quantize(self, value: Decimal) -> Decimal:
        return value


class StrictBooleanField(serializers.BooleanField):
    """Only JSON's true or false. For a switch with consequences (selling at market), "yes",
    "1" or 1 is a guess at intent the API does not make."""

    default_error_messages = {"invalid": "Must be true or false (a JSON boolean)."}

    def to_internal_value(self, data: Any) -> bool:
        if data is True or data is False:
            return data
        self.fail("invalid")
