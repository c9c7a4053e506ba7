"""The base every API view builds on: auth, scopes, throttling and `Idempotency-Key`."""

from __future__ import annotations

from typing import Any, TypeVar

from django.db.models import Model, QuerySet
from django.http import Http404
from rest_framework import viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api import idempotency
from accounts.models import IdempotencyKey, User

_M = TypeVar("_M", bound=Model)
MAX_ID = 2**63 - 1


def owned_or_404(queryset: QuerySet[_M], pk: object) -> _M:
    """`queryset` is already the caller's own; anything else, or a malformed id, is a 404."""
    text = str(pk)
    if not text.isdigit() or not 0 < int(text) <= MAX_ID:
        raise Http404
    found = queryset.filter(pk=int(text)).first()
    if found is None:
        raise Http404
    return found


class ApiViewSet(viewsets.GenericViewSet):
    """Claims the idempotency key once the caller is authenticated, authorised and within
    its rate, and stores the answer when the response is final."""

    _idempotency: IdempotencyKey | None = None
    # Set on an action (`@action(read_only_post=True)`) for a POST that changes nothing.
    read_only_post = False
    # Response fields holding a secret shown once (a webhook's signing secret): an idempotent
    # replay returns them too, but they are stored encrypted in the meantime.
    secret_fields: tuple[str, ...] = ()

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if not self.read_only_post:
            self._idempotency = idempotency.claim(request)

    def handle_exception(self, exc: Exception) -> Response:
        if isinstance(exc, idempotency.Replay):
            return idempotency.replay_response(exc, self.secret_fields)
        try:
            return super().handle_exception(exc)
        except Exception:
            if self._idempotency is not None:
                idempotency.release(self._idempotency)
                self._idempotency = None
            raise

    def finalize_response(self, request: Request, response: Response, *args: Any, **kwargs: Any) -> Response:
        if self._idempotency is not None and isinstance(response, Response):
            idempotency.finish(self._idempotency, response, self.secret_fields)
            self._idempotency = None
        return super().finalize_response(request, response, *args, **kwargs)

    @property
    def user(self) -> User:
        return self.request.user  # type: ignore[return-value]
