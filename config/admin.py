from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp.admin import OTPAdminSite

from accounts.twofactor import has_two_factor


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


class ReadOnlyAdmin(admin.ModelAdmin):
    """For records that mirror the outside world or are evidence: staff read them, nobody edits."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False
