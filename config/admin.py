from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from django.contrib import admin
from django.core.exceptions import FieldDoesNotExist
from django.db import models
from django.http import HttpRequest

from trading.templatetags.money import plain

FieldName = str | Callable[[Any], Any]


def plain_decimal(value: Any) -> str:
    """A stored decimal as staff read it: 54,000 or 0.000125, not 54000.000000000000000000."""
    return plain(value) if value is not None else "-"


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records that mirror the outside world or are evidence: staff read them, nobody edits."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class PlainDecimalsAdmin(admin.ModelAdmin):
    """Shows the model's decimal fields through `plain_decimal`, in lists and on record pages alike.

    The money columns hold 18 decimal places; the admin's own display prints every one of them."""

    def _plain_field(self, name: FieldName) -> FieldName:
        if not isinstance(name, str):
            return name
        try:
            field = self.model._meta.get_field(name)
        except FieldDoesNotExist:
            return name
        if not isinstance(field, models.DecimalField):
            return name
        # One function per field and admin: Django tells form fields from read-only ones by identity.
        cache: dict[str, Callable[[Any], str]] = self.__dict__.setdefault("_plain_displays", {})
        if name not in cache:

            def show(obj: Any, attname: str = field.attname) -> str:
                return plain_decimal(getattr(obj, attname))

            show.__name__ = name
            cache[name] = admin.display(description=field.verbose_name, ordering=name)(show)
        return cache[name]

    def _plain_fields(self, names: Sequence[FieldName]) -> list[FieldName]:
        return list(dict.fromkeys(self._plain_field(name) for name in names))

    def get_list_display(self, request: HttpRequest) -> Sequence[FieldName]:
        return self._plain_fields(super().get_list_display(request))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Sequence[FieldName]:
        return self._plain_fields(super().get_readonly_fields(request, obj))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Sequence[FieldName]:
        return self._plain_fields(super().get_fields(request, obj))
