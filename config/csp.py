"""A Content-Security-Policy on every response: our own scripts, styles, images and fonts only,
no inline script or style, nothing from another host. The product works offline and an injected
tag runs nothing.

A view that needs more (the API docs: Redoc writes its styles at run time) says so with
`@csp_allow(style_src=["'unsafe-inline'"])`; scripts stay our own files everywhere.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import suppress
from functools import wraps
from typing import Any

from django.core.exceptions import DisallowedHost
from django.http import HttpRequest, HttpResponse

HEADER = "Content-Security-Policy"
POLICY: dict[str, list[str]] = {
    "default-src": ["'self'"],
    "script-src": ["'self'"],
    "style-src": ["'self'"],
    "img-src": ["'self'", "data:"],
    "font-src": ["'self'"],
    "connect-src": ["'self'"],
    "worker-src": ["'self'"],
    "object-src": ["'none'"],
    "base-uri": ["'self'"],
    "form-action": ["'self'"],
    "frame-ancestors": ["'none'"],
}
_EXTRA = "_csp_allow"


def policy_for(request: HttpRequest, extra: dict[str, list[str]] | None = None) -> str:
    directives = {name: list(sources) for name, sources in POLICY.items()}
    # 'self' covers the live updates' websocket in current browsers; older ones want it spelled.
    scheme = "wss" if request.is_secure() else "ws"
    with suppress(DisallowedHost):  # a bad host is answered with a 400 that loads nothing
        directives["connect-src"].append(f"{scheme}://{request.get_host()}")
    for name, sources in (extra or {}).items():
        directives.setdefault(name, ["'self'"]).extend(sources)
    return "; ".join(f"{name} {' '.join(sources)}" for name, sources in directives.items())


def csp_allow(**sources: list[str]) -> Callable[[Callable[..., HttpResponse]], Callable[..., HttpResponse]]:
    """Widen the policy for one view: `style_src=["'unsafe-inline'"]` adds to style-src."""
    extra = {name.replace("_", "-"): list(values) for name, values in sources.items()}

    def decorate(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
        @wraps(view)
        def wrapped(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            response = view(request, *args, **kwargs)
            setattr(response, _EXTRA, extra)
            return response

        return wrapped

    return decorate


class ContentSecurityPolicyMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if HEADER not in response:
            response[HEADER] = policy_for(request, getattr(response, _EXTRA, None))
        return response
