"""Request limits per token (per user for the browser, per address when anonymous)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiToken
from billing import entitlements


class ApiRateThrottle(SimpleRateThrottle):
    """A token's rate is its owner's plan's (`billing.entitlements.api_rate`); a browser
    session's and an anonymous caller's come from `settings.API_THROTTLE_RATES`. Both are read
    per request, so a new plan applies at the next call."""

    scope = "token"
    cache_format = "api-throttle:%(scope)s:%(ident)s"

    def __init__(self) -> None:
        # SimpleRateThrottle reads the rate at construction; it is read per request instead.
        pass

    def rate_name(self, request: Request) -> str:
        if isinstance(request.auth, ApiToken):
            return "token"
        return "user" if request.user and request.user.is_authenticated else "anon"

    def allow_request(self, request: Request, view: Any) -> bool:
        self.scope = self.rate_name(request)
        if self.scope == "token":
            self.rate = entitlements.api_rate(request.user)
        else:
            self.rate = settings.API_THROTTLE_RATES.get(self.scope)
        self.num_requests, self.duration = self.parse_rate(self.rate)
        return super().allow_request(request, view)

    def get_cache_key(self, request: Request, view: Any) -> str | None:
        if isinstance(request.auth, ApiToken):
            ident = str(request.auth.pk)
        elif request.user and request.user.is_authenticated:
            ident = str(request.user.pk)
        else:
            ident = self.get_ident(request)
        return self.cache_format % {"scope": self.scope, "ident": ident}
