"""`/api/v1/alerts/`: the caller's price alerts. Checked by the page's form (`PriceAlertForm`), so
an unknown symbol, a price at or below zero or an alert that would fire at once get the same
answers as on the page, as a 400 naming the field."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.errors import (
    OBJECT_ERRORS,
    READ_ERRORS,
    error_responses,
    form_error_fields,
    validation_error,
)
from accounts.api.fields import ExactDecimalField, StrictBooleanField, StrictCharField, amount
from accounts.api.pagination import ApiCursorPagination
from accounts.api.views import ApiViewSet, owned_or_404
from notifications import alerts
from notifications.alerts_forms import PriceAlertForm
from notifications.events import CONFIGURABLE_CHANNELS
from notifications.models import AlertDirection, PriceAlert

EXAMPLE = {
    "id": 7,
    "exchange_account": 2,
    "symbol": "BTCUSDT",
    "direction": "above",
    "price": "70000",
    "channels": ["in_app", "email"],
    "note": "Take some profit",
    "created_at": "2026-01-05T10:00:00Z",
    "fired_at": None,
    "fired_price": None,
}
WRITE_EXAMPLE = {
    k: EXAMPLE[k] for k in ("exchange_account", "symbol", "direction", "price", "channels", "note")
}
RESPONSE_EXAMPLE = OpenApiExample("Alert", value=EXAMPLE, response_only=True)


class PriceAlertSerializer(serializers.ModelSerializer[PriceAlert]):
    exchange_account = serializers.IntegerField(source="exchange_account_id", read_only=True)
    price = amount(help_text="The price that fires the alert, as a decimal string.")
    fired_price = amount(allow_null=True, help_text="The price that fired it; null while armed.")
    channels = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="The channels it alerts on; empty follows your settings for price alerts.",
    )

    class Meta:
        model = PriceAlert
        fields = tuple(EXAMPLE)
        read_only_fields = fields


class PriceAlertWriteSerializer(serializers.Serializer[Any]):
    exchange_account = serializers.IntegerField(
        help_text="One of your exchange accounts: whose price counts."
    )
    symbol = StrictCharField(max_length=32, help_text="e.g. BTCUSDT")
    direction = serializers.ChoiceField(choices=AlertDirection.choices)
    price = ExactDecimalField(max_digits=38, decimal_places=18, help_text='Above zero, e.g. "70000".')
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=[(c.value, c.label) for c in CONFIGURABLE_CHANNELS]),
        required=False,
        default=list,
        help_text="Empty or left out: as your notification settings say for price alerts.",
    )
    note = StrictCharField(max_length=200, required=False, allow_blank=True, default="")
    fire_now = StrictBooleanField(
        required=False,
        default=False,
        help_text="Create it even if the price already meets it (it fires at once); otherwise that is a 400.",
    )


@extend_schema_view(
    list=extend_schema(
        summary="List your price alerts",
        description="Newest first, in cursor pages, armed and fired alike.",
        responses={200: PriceAlertSerializer(many=True), **error_responses(400, *READ_ERRORS)},
        examples=[RESPONSE_EXAMPLE],
    ),
    retrieve=extend_schema(
        summary="Read a price alert",
        description="One of your alerts by id; another trader's is a 404.",
        responses={200: PriceAlertSerializer, **error_responses(*OBJECT_ERRORS)},
        examples=[RESPONSE_EXAMPLE],
    ),
)
class PriceAlertViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = PriceAlertSerializer
    pagination_class = ApiCursorPagination
    queryset = PriceAlert.objects.none()  # for the schema's path types; get_queryset scopes

    def get_queryset(self) -> QuerySet[PriceAlert]:
        if getattr(self, "swagger_fake_view", False):
            return PriceAlert.objects.none()
        return PriceAlert.objects.owned_by(self.user)

    def get_object(self) -> PriceAlert:
        return owned_or_404(self.get_queryset(), self.kwargs["pk"])

    @extend_schema(
        summary="Add a price alert",
        description=(
            "Fires once, when the price of `symbol` on the exchange account reaches `price` from the "
            "`direction` side (prices are checked every 15 seconds). 400 with the field for an account "
            "not yours, a symbol its venue does not list, a price of zero or less, or a price the "
            "market already meets unless `fire_now` is true."
        ),
        request=PriceAlertWriteSerializer,
        responses={201: PriceAlertSerializer, **error_responses(400, 401, 403, 429)},
        examples=[OpenApiExample("Above", value=WRITE_EXAMPLE, request_only=True), RESPONSE_EXAMPLE],
    )
    def create(self, request: Request) -> Response:
        given = PriceAlertWriteSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = {**given.validated_data, "price": str(given.validated_data["price"])}
        form = PriceAlertForm(data, user=self.user)
        if not form.is_valid():
            raise validation_error(form_error_fields(form))
        alert = alerts.do_create_alert(self.user, form.values(), current_price=form.current_price)
        return Response(PriceAlertSerializer(alert).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Delete a price alert",
        description="Armed or fired, it is gone; notifications it already sent stay.",
        responses={204: None, **error_responses(*OBJECT_ERRORS)},
    )
    def destroy(self, request: Request, pk: str) -> Response:
        alerts.do_delete_alert(self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)

    @extend_schema(
        summary="Re-arm a price alert",
        description="A fired alert is armed again: it fires once more, the next time the price meets it.",
        request=None,
        responses={200: PriceAlertSerializer, **error_responses(*OBJECT_ERRORS)},
        examples=[RESPONSE_EXAMPLE],
    )
    @action(detail=True, methods=["post"], url_path="rearm")
    def rearm(self, request: Request, pk: str | None = None) -> Response:
        return Response(PriceAlertSerializer(alerts.do_rearm_alert(self.get_object())).data)
