"""Webhook endpoints through the API: the page's form and actions (`bots.webhooks.actions`), so
the SSRF guard, the event list and the per-trader limit are the same rules."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.errors import (
    OBJECT_ERRORS,
    READ_ERRORS,
    ApiError,
    error_responses,
    form_error_fields,
    validation_error,
)
from accounts.api.pagination import ApiCursorPagination
from accounts.api.views import ApiViewSet, owned_or_404
from bots.api.webhook_serializers import (
    CreatedWebhookEndpointSerializer,
    RotatedSecretSerializer,
    WebhookDeliverySerializer,
    WebhookEndpointSerializer,
    WebhookEndpointWriteSerializer,
)
from bots.webhooks import actions
from bots.webhooks.forms import EndpointForm
from bots.webhooks.models import MAX_ENDPOINTS_PER_USER, WebhookEndpoint, signing_secrets

ENDPOINT_EXAMPLE = {
    "id": 3,
    "url": "https://example.com/gridwise/webhook",
    "description": "My server",
    "events": ["order.filled", "bot.error"],
    "enabled": True,
    "previous_secret_expires_at": None,
    "created_at": "2026-01-05T10:00:00Z",
    "updated_at": "2026-01-05T10:00:00Z",
}
SECRET_EXAMPLE = "whsec_kJ3v9Qm2ZtX8yWc4Rb6Nf1Lp0Hs5Ga7Ud2Ee9Ti3Oo8"  # noqa: S105 - a documentation example
WRITE_EXAMPLE = {k: ENDPOINT_EXAMPLE[k] for k in ("url", "description", "events", "enabled")}
DELIVERY_EXAMPLE = {
    "id": 41,
    "event_id": "evt_5f0c2a9e1b7d4c3a8e6f1029",
    "event_type": "ping",
    "status": "succeeded",
    "attempt_count": 1,
    "max_attempts": 1,
    "next_attempt_at": None,
    "created_at": "2026-01-05T10:01:00Z",
    "completed_at": "2026-01-05T10:01:00Z",
    "body": '{"id":"evt_5f0c2a9e1b7d4c3a8e6f1029","type":"ping","created":1767607260,"data":{}}',
    "attempts": [
        {
            "number": 1,
            "started_at": "2026-01-05T10:01:00Z",
            "duration_ms": 84,
            "status_code": 200,
            "error": "",
            "response_body": '{"ok": true}',
            "succeeded": True,
        }
    ],
}
ENDPOINT_RESPONSE_EXAMPLE = OpenApiExample("Endpoint", value=ENDPOINT_EXAMPLE, response_only=True)


def _checked_fields(data: dict[str, Any]) -> dict[str, Any]:
    """The page form's checks (URL syntax, the SSRF guard, events), or a 400 naming the field."""
    form = EndpointForm(data)
    if not form.is_valid():
        raise validation_error(form_error_fields(form))
    return form.endpoint_fields()


@extend_schema_view(
    list=extend_schema(
        summary="List your webhook endpoints",
        description=(
            "Newest first, in cursor pages. Secrets are never listed: only the answers to create and "
            "rotate-secret show them."
        ),
        responses={200: WebhookEndpointSerializer(many=True), **error_responses(400, *READ_ERRORS)},
        examples=[ENDPOINT_RESPONSE_EXAMPLE],
    ),
    retrieve=extend_schema(
        summary="Read a webhook endpoint",
        description="Its URL, events and whether it is enabled; never its secret.",
        responses={200: WebhookEndpointSerializer, **error_responses(*OBJECT_ERRORS)},
        examples=[ENDPOINT_RESPONSE_EXAMPLE],
    ),
)
class WebhookEndpointViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = WebhookEndpointSerializer
    pagination_class = ApiCursorPagination
    queryset = WebhookEndpoint.objects.none()  # for the schema's path types; get_queryset scopes
    secret_fields = ("secret",)

    def get_queryset(self) -> QuerySet[WebhookEndpoint]:
        return WebhookEndpoint.objects.owned_by(self.user)

    def get_object(self) -> WebhookEndpoint:
        return owned_or_404(self.get_queryset(), self.kwargs["pk"])

    @extend_schema(
        summary="Add a webhook endpoint",
        description=(
            "We POST the chosen events to `url`, signed with `Gridwise-Signature: t=<unix>,v1=<hex>` "
            "(HMAC-SHA256 of `{t}.{body}` with the secret). The URL must be http(s) and its host must "
            "resolve only to public addresses (400 on `url` otherwise). The answer carries the signing "
            f"secret, shown this once. At most {MAX_ENDPOINTS_PER_USER} endpoints: 409 beyond that. "
            "Send an `Idempotency-Key` to retry safely."
        ),
        request=WebhookEndpointWriteSerializer,
        responses={201: CreatedWebhookEndpointSerializer, **error_responses(400, 401, 403, 409, 422, 429)},
        examples=[
            OpenApiExample("Fills and errors", value=WRITE_EXAMPLE, request_only=True),
            OpenApiExample(
                "Created", value={**ENDPOINT_EXAMPLE, "secret": SECRET_EXAMPLE}, response_only=True
            ),
        ],
    )
    def create(self, request: Request) -> Response:
        given = WebhookEndpointWriteSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        fields = _checked_fields(dict(given.validated_data))
        try:
            endpoint = actions.do_create_endpoint(self.user, **fields, request=request._request)
        except actions.EndpointLimitReached as exc:
            raise ApiError(409, "endpoint_limit_reached", str(exc)) from exc
        body = CreatedWebhookEndpointSerializer(endpoint).data
        body["secret"] = signing_secrets(endpoint)[0]
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Replace a webhook endpoint's settings",
        description="URL, description, events and `enabled`, checked as on create. The secret stays.",
        request=WebhookEndpointWriteSerializer,
        responses={200: WebhookEndpointSerializer, **error_responses(400, *OBJECT_ERRORS, 422)},
        examples=[
            OpenApiExample("Edit", value=WRITE_EXAMPLE, request_only=True),
            ENDPOINT_RESPONSE_EXAMPLE,
        ],
    )
    def update(self, request: Request, pk: str) -> Response:
        return self._save(request, partial=False)

    @extend_schema(
        summary="Change some of a webhook endpoint's settings",
        description='Like PUT, but fields left out keep their values, e.g. `{"enabled": false}` pauses it.',
        request=WebhookEndpointWriteSerializer(partial=True),
        responses={200: WebhookEndpointSerializer, **error_responses(400, *OBJECT_ERRORS, 422)},
        examples=[
            OpenApiExample("Pause", value={"enabled": False}, request_only=True),
            OpenApiExample("Paused", value={**ENDPOINT_EXAMPLE, "enabled": False}, response_only=True),
        ],
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        return self._save(request, partial=True)

    def _save(self, request: Request, *, partial: bool) -> Response:
        endpoint = self.get_object()
        given = WebhookEndpointWriteSerializer(data=request.data, partial=partial)
        given.is_valid(raise_exception=True)
        current = {name: getattr(endpoint, name) for name in ("url", "description", "events", "enabled")}
        fields = _checked_fields({**current, **given.validated_data} if partial else given.validated_data)
        actions.do_update_endpoint(endpoint, **fields)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        summary="Delete a webhook endpoint",
        description="Nothing more is sent to it; its delivery log goes with it.",
        responses={204: None, **error_responses(*OBJECT_ERRORS, 422)},
    )
    def destroy(self, request: Request, pk: str) -> Response:
        actions.do_delete_endpoint(self.get_object(), request=request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Rotate the signing secret",
        description=(
            "Makes a new secret and returns it. For 24 hours we sign with both the new and the old "
            "one (two `v1=` values), so switch your receiver over within that time."
        ),
        request=None,
        responses={200: RotatedSecretSerializer, **error_responses(*OBJECT_ERRORS, 422)},
        examples=[
            OpenApiExample(
                "Rotated",
                value={"secret": SECRET_EXAMPLE, "previous_secret_expires_at": "2026-01-06T10:00:00Z"},
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"], url_path="rotate-secret")
    def rotate_secret(self, request: Request, pk: str) -> Response:
        endpoint = actions.do_rotate_secret(self.get_object(), request=request._request)
        body = {
            "secret": signing_secrets(endpoint)[0],
            "previous_secret_expires_at": endpoint.previous_secret_expires_at,
        }
        return Response(RotatedSecretSerializer(body).data)

    @extend_schema(
        summary="Send a test ping",
        description=(
            "Queues one signed `ping` event (tried once, no retries), even to a disabled endpoint. "
            "Returns the delivery at once; read its outcome from `deliveries`."
        ),
        request=None,
        responses={202: WebhookDeliverySerializer, **error_responses(*OBJECT_ERRORS, 422)},
        examples=[
            OpenApiExample(
                "Queued",
                value={
                    **DELIVERY_EXAMPLE,
                    "status": "pending",
                    "attempt_count": 0,
                    "next_attempt_at": "2026-01-05T10:01:00Z",
                    "completed_at": None,
                    "attempts": [],
                },
                response_only=True,
                status_codes=["202"],
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def ping(self, request: Request, pk: str) -> Response:
        delivery = actions.do_send_ping(self.get_object())
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="An endpoint's delivery log",
        description=(
            "Events sent to the endpoint, newest first, in cursor pages, each with every attempt: "
            "when, the status code or error, how long it took and the start of the answer."
        ),
        responses={200: WebhookDeliverySerializer(many=True), **error_responses(400, *OBJECT_ERRORS)},
        examples=[OpenApiExample("Delivered ping", value=DELIVERY_EXAMPLE, response_only=True)],
    )
    @action(detail=True, methods=["get"], pagination_class=ApiCursorPagination)
    def deliveries(self, request: Request, pk: str) -> Response:
        found = self.get_object().deliveries.prefetch_related("attempts")
        page = self.paginate_queryset(found)
        return self.get_paginated_response(WebhookDeliverySerializer(page, many=True).data)
