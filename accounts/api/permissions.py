"""Scopes: `read` for safe methods, `trade` for anything that changes something."""

from __future__ import annotations

from typing import Any

from rest_framework import permissions
from rest_framework.request import Request

from accounts.models import ApiScope, ApiToken
from billing import entitlements


def required_scope(request: Request, view: Any) -> str:
    # A view may name its own scope for a POST that changes nothing (the preview).
    if request.method in permissions.SAFE_METHODS or getattr(view, "read_only_post", False):
        return ApiScope.READ
    return ApiScope.TRADE


class HasScope(permissions.IsAuthenticated):
    """A browser session may do what its user may; a token only what its scopes allow."""

    message = "This token lacks the scope this call needs."

    def has_permission(self, request: Request, view: Any) -> bool:
        if not super().has_permission(request, view):
            return False
        token = request.auth
        if not isinstance(token, ApiToken):
            return True
        scope = required_scope(request, view)
        if scope == ApiScope.TRADE:
            # A plan with read-only API access: 403 `plan_limit`, whatever the token's scopes.
            entitlements.check_api_write(request.user)
        if token.has_scope(scope):
            return True
        self.message = f"This token lacks the “{scope}” scope this call needs."
        return False
