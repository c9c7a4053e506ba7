from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlencode

from django.contrib import admin
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp.admin import OTPAdminSite

from accounts.twofactor import has_two_factor

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldGroups, _ListDisplayT

from trading.templatetags.money import plain

T = TypeVar("T")


class StaffAdminSite(OTPAdminSite):
    """The admin behind the site's own sign-in: its rate limits, its audit trail and its second
    factor. The admin never takes a password itself, so it can neither confirm one nor be
    guessed against without the site's lockout."""

    site_header = "Gridwise staff"
    site_title = "Gridwise staff"

    def login(self, request: HttpRequest, extra_context: dict[str, Any] | None = None) -> HttpResponse:
        target = self._target(request)
        user = request.user
        if not user.is_authenticated:
            return redirect(f"{reverse('account_login')}?{urlencode({'next': target})}")
        if self.has_permission(request):
            return redirect(target)
        context = {
            "is_staff": user.is_active and user.is_staff,
            "has_two_factor": has_two_factor(user),
            "sign_in_again": f"{reverse('account_login')}?{urlencode({'next': target})}",
        }
        return render(request, "accounts/admin_access.html", context, status=403)

    def _target(self, request: HttpRequest) -> str:
        """Where the admin wanted to go: a page of the admin, never elsewhere."""
        index = reverse("admin:index", current_app=self.name)
        wanted = request.GET.get("next", "")
        safe = url_has_allowed_host_and_scheme(wanted, allowed_hosts={request.get_host()})
        return wanted if safe and wanted.startswith(index) else index


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
