"""One error shape for every failure: `{"error": {"code", "message", "fields"?}}`.

`fields` maps a request field (dotted for nested ones) to its messages. Apps raise `ApiError`
or DRF's own exceptions; `config.api.exception_handler` translates domain errors first.
"""

from __future__ import annotations

import math
from typing import Any

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.response import Response
from rest_framework.views import set_rollback

from config.wording import wait_phrase

NON_FIELD = "non_field_errors"


class ApiError(exceptions.APIException):
    """An error with our own code, e.g. `ApiError(409, "bot_active", "Stop the bot first.")`."""

    def __init__(
        self,
        status_code: int,
        code: str,
        message: str,
        *,
        fields: dict[str, list[str]] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail=message, code=code)
        self.status_code = status_code
        self.error_code = code
        self.fields = fields
        self.headers = headers or {}


def error_body(code: str, message: str, fields: dict[str, list[str]] | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message}
    if fields:
        error["fields"] = fields
    return {"error": error}


def flatten_fields(detail: Any, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested error detail as {"field" or "parent.child" or "items.0.price": [messages]}."""
    if isinstance(detail, dict):
        flat: dict[str, list[str]] = {}
        for key, value in detail.items():
            name = NON_FIELD if key in ("__all__", NON_FIELD) and not prefix else str(key)
            flat.update(flatten_fields(value, f"{prefix}.{name}" if prefix else name))
        return flat
    if isinstance(detail, list) and detail and all(not isinstance(item, dict | list) for item in detail):
        return {prefix or NON_FIELD: [str(item) for item in detail]}
    if isinstance(detail, list):
        flat = {}
        for index, item in enumerate(detail):
            flat.update(flatten_fields(item, f"{prefix}.{index}" if prefix else str(index)))
        return flat
    return {prefix or NON_FIELD: [str(detail)]}


def form_error_fields(form: Any, renames: dict[str, str] | None = None) -> dict[str, list[str]]:
    """A page form's errors by API field name, for views that reuse the page's form."""
    names = {"__all__": NON_FIELD, **(renames or {})}
    return {names.get(field, field): [str(m) for m in messages] for field, messages in form.errors.items()}


def validation_error(fields: dict[str, list[str]]) -> ApiError:
    first = next((messages[0] for messages in fields.values() if messages), "The request is not valid.")
    return ApiError(status.HTTP_400_BAD_REQUEST, "validation_error", first, fields=fields)


def _codes(exc: exceptions.APIException) -> str:
    if isinstance(exc, exceptions.ValidationError):
        return "validation_error"
    return exc.default_code if isinstance(exc.default_code, str) else "error"


def render_api_exception(exc: Exception) -> Response | None:
    """The response for a DRF (or Django 404/403) exception, in our shape; None for anything else."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound("Not found: there is nothing with that id among your objects.")
    elif isinstance(exc, DjangoPermissionDenied):
        exc = exceptions.PermissionDenied()
    if not isinstance(exc, exceptions.APIException):
        return None
    headers: dict[str, str] = {}
    challenge = getattr(exc, "auth_header", None)  # set by DRF when it answers 401
    if challenge:
        headers["WWW-Authenticate"] = str(challenge)
    wait = getattr(exc, "wait", None)
    if isinstance(exc, exceptions.Throttled) and wait is not None:
        headers["Retry-After"] = str(max(1, math.ceil(wait)))
    if isinstance(exc, ApiError):
        headers.update(exc.headers)
        body = error_body(exc.error_code, str(exc.detail), exc.fields)
    elif isinstance(exc, exceptions.ValidationError):
        fields = flatten_fields(exc.detail)
        return _response(validation_error(fields), headers)
    else:
        message = str(exc.detail) if not isinstance(exc.detail, dict | list) else str(exc.default_detail)
        if isinstance(exc, exceptions.Throttled):
            retry_after = headers.get("Retry-After")
            when = f"in {wait_phrase(int(retry_after))}" if retry_after else "in a moment"
            message = f"Too many requests. Try again {when}."
        body = error_body(_codes(exc), message)
    set_rollback()
    return Response(body, status=exc.status_code, headers=headers)


def _response(exc: ApiError, headers: dict[str, str]) -> Response:
    set_rollback()
    return Response(
        error_body(exc.error_code, str(exc.detail), exc.fields), status=exc.status_code, headers=headers
    )


# The shape in the OpenAPI schema ------------------------------------------------------

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "code": serializers.CharField(help_text="Stable, machine-readable, e.g. `validation_error`."),
                "message": serializers.CharField(help_text="What went wrong and what to change."),
                "fields": serializers.DictField(
                    child=serializers.ListField(child=serializers.CharField()),
                    required=False,
                    help_text="Per request field, its messages. Only for validation errors.",
                ),
            },
        )
    },
)

_ERRORS: dict[int, tuple[str, str, str]] = {
    400: ("validation_error", "The request is not valid; `fields` names each problem.", "lower_price"),
    401: ("not_authenticated", "No valid token: send `Authorization: Bearer <token>`.", ""),
    403: (
        "permission_denied",
        "The token lacks the scope this call needs, or (code `plan_limit`, with `limit`, `current` "
        "and `allowed` in `fields`) the owner's plan does not allow it.",
        "",
    ),
    404: ("not_found", "No such object among yours (or, for a list, no such cursor).", ""),
    409: ("conflict", "The object is not in a state that allows this, e.g. a running bot.", ""),
    422: ("idempotency_key_reused", "This Idempotency-Key was used with a different request.", ""),
    429: ("throttled", "Too many requests; `Retry-After` says when to try again.", ""),
    502: ("exchange_error", "The exchange answered with an error.", ""),
    503: ("exchange_unavailable", "The exchange did not answer; nothing was changed.", ""),
}


def error_responses(*codes: int) -> dict[int, OpenApiResponse]:
    """OpenAPI responses for `codes`, each with the error shape and an example."""
    responses = {}
    for code in codes:
        error_code, message, field = _ERRORS[code]
        example = error_body(
            error_code, message, {field: ["Must be below the upper price."]} if field else None
        )
        responses[code] = OpenApiResponse(
            ErrorSerializer,
            description=message,
            examples=[
                OpenApiExample(error_code, value=example, response_only=True, status_codes=[str(code)])
            ],
        )
    return responses


READ_ERRORS = (401, 403, 404, 429)  # 404: a cursor that points nowhere
OBJECT_ERRORS = (401, 403, 404, 429)
WRITE_ERRORS = (400, 401, 403, 409, 422, 429)
