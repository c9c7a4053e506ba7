"""Serializer fields every app's API shares."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers


def amount(**kwargs: Any) -> serializers.DecimalField:
    """An exact decimal out, as a string, never rounded."""
    return serializers.DecimalField(max_digits=None, decimal_places=None, read_only=True, **kwargs)


class ExactDecimalField(serializers.DecimalField):
    """Checks digits like DecimalField but keeps the value as sent: "54000" stays 54000,
    not 54000.000000000000, so stored configs read as the trader wrote them."""

    def quantize(self, value: Decimal) -> Decimal:
        return value
