"""`/api/v1/notifications/`: the caller's notifications, newest first; mark read."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import mixins, serializers
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.errors import READ_ERRORS, error_responses
from accounts.api.pagination import ApiCursorPagination
from accounts.api.views import ApiViewSet
from notifications import actions
from notifications.events import Kind, Severity
from notifications.models import Notification

EXAMPLE = {
    "id": 12,
    "kind": "bot.stop_loss",
    "severity": "critical",
    "title": "BTC grid: stop-loss or maximum drawdown reached",
    "body": "BTC grid (BTCUSDT) hit its stop-loss and is stopping.",
    "link": "/bots/4/",
    "payload": {"bot_id": 4, "bot_name": "BTC grid", "symbol": "BTCUSDT", "run": 1, "reason": "stop_loss"},
    "created_at": "2026-01-05T10:03:00Z",
    "read_at": None,
}


class NotificationSerializer(serializers.ModelSerializer[Notification]):
    class Meta:
        model = Notification
        fields = ("id", "kind", "severity", "title", "body", "link", "payload", "created_at", "read_at")
        read_only_fields = fields


class NotificationFilterSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=Kind.choices, required=False, help_text="Only this event type.")
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    unread = serializers.BooleanField(required=False, default=False, help_text="Only unread notifications.")


MARKED = inline_serializer("NotificationsMarked", {"marked_read": serializers.IntegerField()})


class NewestFirst(ApiCursorPagination):
    ordering = ("-created_at", "-id")


class NotificationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = NotificationSerializer
    pagination_class = NewestFirst

    def get_queryset(self) -> QuerySet[Notification]:
        if getattr(self, "swagger_fake_view", False):
            return Notification.objects.none()  # the schema generator has no caller
        if self.action != "list":
            return actions.owned(actions.caller_id(self.request))
        filters = NotificationFilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return actions.filtered(actions.caller_id(self.request), **filters.validated_data)

    @extend_schema(
        summary="Your notifications",
        description="Newest first, in cursor pages. Filter by `kind`, `severity` and `unread`.",
        parameters=[NotificationFilterSerializer],
        responses={200: NotificationSerializer(many=True), **error_responses(400, *READ_ERRORS)},
        examples=[OpenApiExample("Notification", value=EXAMPLE, response_only=True)],
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="One notification",
        description="One of your notifications by id; another trader's is a 404.",
        examples=[OpenApiExample("Notification", value=EXAMPLE, response_only=True)],
        responses={200: NotificationSerializer, **error_responses(*READ_ERRORS)},
    )
    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().retrieve(request, *args, **kwargs)

    @extend_schema(
        summary="Mark one notification read",
        description="Marks it read (once: a read notification keeps its first `read_at`) and returns it.",
        request=None,
        examples=[
            OpenApiExample(
                "Notification", value={**EXAMPLE, "read_at": "2026-01-05T10:05:00Z"}, response_only=True
            )
        ],
        responses={200: NotificationSerializer, **error_responses(*READ_ERRORS)},
    )
    @action(detail=True, methods=["post"], url_path="read")
    def read(self, request: Request, pk: str | None = None) -> Response:
        notification = self.get_object()
        actions.do_mark_read(
            actions.caller_id(request), actions.owned(actions.caller_id(request)).filter(pk=notification.pk)
        )
        notification.refresh_from_db()
        return Response(NotificationSerializer(notification).data)

    @extend_schema(
        summary="Mark all notifications read",
        description="Marks every unread notification of yours read; answers how many changed.",
        request=None,
        examples=[OpenApiExample("Marked", value={"marked_read": 3}, response_only=True)],
        responses={200: MARKED, **error_responses(*READ_ERRORS)},
    )
    @action(detail=False, methods=["post"], url_path="read-all")
    def read_all(self, request: Request) -> Response:
        return Response(
            {
                "marked_read": actions.do_mark_read(
                    actions.caller_id(request), actions.owned(actions.caller_id(request))
                )
            }
        )
