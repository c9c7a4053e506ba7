from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from django.contrib import admin
from django.db import models
from django.http import HttpRequest

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups, _ListDisplayT

from trading.templatetags.money import plain

T = TypeVar("T")


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
    """Shows the model's decimal fields through `plain_decimal`, in lists and on record pages alike:
    the money columns hold 18 decimal places and the admin's own display prints every one."""

    def __init__(self, model: type[models.Model], admin_site: admin.AdminSite) -> None:
        super().__init__(model, admin_site)
        self.plain_names: dict[str, str] = {}
        for field in model._meta.fields:
            if isinstance(field, models.DecimalField):
                # A name of its own: the admin would look a field's own name up on the model.
                name = f"{field.name}_plain"
                setattr(self, name, _plain_display(field))
                self.plain_names[field.name] = name

    def _plain(self, names: Iterable[T]) -> list[T]:
        shown = (self.plain_names.get(name, name) if isinstance(name, str) else name for name in names)
        return list(dict.fromkeys(shown))  # type: ignore[arg-type]

    def get_list_display(self, request: HttpRequest) -> _ListDisplayT[Any]:
        return self._plain(super().get_list_display(request))

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return self._plain(super().get_readonly_fields(request, obj))

    def get_fields(self, request: HttpRequest, obj: Any = None) -> _FieldGroups:
        return self._plain(super().get_fields(request, obj))


def _plain_display(field: models.DecimalField) -> Callable[[Any], str]:
    @admin.display(description=str(field.verbose_name), ordering=field.name)
    def show(obj: Any) -> str:
        return plain_decimal(getattr(obj, field.attname))

    return show
