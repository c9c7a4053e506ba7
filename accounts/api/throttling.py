"""Request limits per token (per user for the browser, per address when anonymous)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from rest_framework.request import Request
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import ApiToken


class ApiRateThrottle(SimpleRateThrottle):
    """Rates come from `settings.API_THROTTLE_RATES`, read per request, so a plan-based
    limit later only changes `rate_name`."""

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
