"""`Idempotency-Key` on mutating calls: the first answer is kept and replayed.

The key is claimed with an INSERT before the call runs, so of two concurrent requests with
one key exactly one runs; the other gets 409 until the first has answered, then its replay.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.errors import ApiError
from accounts.models import IdempotencyKey, User
from exchanges import credentials

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 255
MUTATING = ("POST", "PUT", "PATCH", "DELETE")


@dataclass(frozen=True)
class Replay(Exception):
    status_code: int
    body: Any


def fingerprint(request: Request) -> str:
    body = json.dumps(request.data, sort_keys=True, default=str) if request.data else ""
    text = f"{request.method} {request.path}\n{body}"
    return hashlib.sha256(text.encode()).hexdigest()


def _ttl() -> timedelta:
    return timedelta(seconds=getattr(settings, "API_IDEMPOTENCY_TTL", 24 * 3600))


def claim(request: Request) -> IdempotencyKey | None:
    """The claimed row, or None without a header. Raises `Replay` or `ApiError`."""
    key = request.headers.get(HEADER, "").strip()
    if not key or request.method not in MUTATING:
        return None
    if len(key) > MAX_KEY_LENGTH:
        raise ApiError(400, "validation_error", f"{HEADER} must be at most {MAX_KEY_LENGTH} characters.")
    user: User = request.user  # type: ignore[assignment]
    print_ = fingerprint(request)
    now = timezone.now()
    IdempotencyKey.objects.filter(owner=user, key=key, expires_at__lte=now).delete()
    try:
        with transaction.atomic():
            return IdempotencyKey.objects.create(
                owner=user, key=key, fingerprint=print_, created_at=now, expires_at=now + _ttl()
            )
    except IntegrityError:
        pass
    first = IdempotencyKey.objects.filter(owner=user, key=key).first()
    if first is None:  # expired and removed between our two statements: a fresh call may run
        return claim(request)
    if first.fingerprint != print_:
        raise ApiError(
            422,
            "idempotency_key_reused",
            f"This {HEADER} was already used for a different request. Use a new key for a new request.",
        )
    if first.status_code is None:
        raise ApiError(
            409,
            "idempotency_key_in_use",
            f"A request with this {HEADER} is still running. Retry in a moment to get its result.",
            headers={"Retry-After": "1"},
        )
    raise Replay(first.status_code, first.response_body)


def finish(record: IdempotencyKey, response: Response, secret_fields: Iterable[str] = ()) -> None:
    """Keep the answer; a server error releases the key so the call can be retried.

    `secret_fields` (e.g. a webhook's signing secret) are kept encrypted, like the secret itself.
    """
    if response.status_code >= 500:
        IdempotencyKey.objects.filter(pk=record.pk).delete()
        return
    body = json.loads(JSONRenderer().render(response.data)) if response.data is not None else None
    body = _map_fields(body, secret_fields, credentials.encrypt)
    IdempotencyKey.objects.filter(pk=record.pk).update(status_code=response.status_code, response_body=body)


def _map_fields(body: Any, names: Iterable[str], change: Callable[[str], str]) -> Any:
    if not isinstance(body, dict):
        return body
    return {
        key: change(value) if key in names and isinstance(value, str) else value
        for key, value in body.items()
    }


def release(record: IdempotencyKey) -> None:
    IdempotencyKey.objects.filter(pk=record.pk).delete()


def replay_response(replay: Replay, secret_fields: Iterable[str] = ()) -> Response:
    body = _map_fields(replay.body, secret_fields, credentials.decrypt)
    return Response(body, status=replay.status_code, headers={"Idempotent-Replayed": "true"})
