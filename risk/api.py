"""`/api/v1/risk-rules/`: the caller's account-wide risk rules, read and replaced whole."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.errors import READ_ERRORS, error_responses, validation_error
from accounts.api.fields import StrictDecimalField
from accounts.api.views import ApiViewSet
from risk import actions
from risk.models import LossAction, RiskRules

SMALLEST = Decimal("0.00000001")

EXAMPLE = {
    "daily_loss_limit": "250",
    "daily_loss_action": "stop_all",
    "max_total_investment": "5000",
    "max_bots_per_symbol": 2,
    "max_leverage": 10,
    "staff_max_leverage": None,
    "tripped_on": None,
    "updated_at": "2026-01-05T10:03:00Z",
}

REQUEST_EXAMPLE = {
    k: v for k, v in EXAMPLE.items() if k not in ("tripped_on", "updated_at", "staff_max_leverage")
}


class WholeNumberField(serializers.IntegerField):
    """A JSON integer only: not "2", 2.0 or true."""

    default_error_messages = {"invalid": "Must be a whole number or null."}

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class RiskRulesSerializer(serializers.Serializer[RiskRules]):
    daily_loss_limit = StrictDecimalField(
        max_digits=30,
        decimal_places=8,
        min_value=SMALLEST,
        allow_null=True,
        default=None,
        help_text=(
            "Today's loss (realised plus unrealised since midnight in your time zone, across all "
            "bots) in any one quote asset that trips the rule; null for no limit."
        ),
    )
    daily_loss_action = serializers.ChoiceField(
        choices=LossAction.choices,
        default=LossAction.STOP_ALL,
        help_text="`stop_all` stops every bot once the limit is reached; `alert` only notifies.",
    )
    max_total_investment = StrictDecimalField(
        max_digits=30,
        decimal_places=8,
        min_value=SMALLEST,
        allow_null=True,
        default=None,
        help_text="The running bots' investments added up; a start above it is refused. Null for no limit.",
    )
    max_bots_per_symbol = WholeNumberField(
        min_value=1,
        max_value=10_000,
        allow_null=True,
        default=None,
        help_text="Running bots allowed on one symbol; a start above it is refused. Null for no limit.",
    )
    max_leverage = WholeNumberField(
        min_value=1,
        max_value=125,
        allow_null=True,
        default=None,
        help_text=(
            "The highest leverage a futures grid may use; null for the most your account allows "
            "(`staff_max_leverage` and the server's cap)."
        ),
    )
    staff_max_leverage = serializers.IntegerField(
        read_only=True,
        allow_null=True,
        help_text="A cap Gridwise support set on your account; null for none.",
    )
    tripped_on = serializers.DateField(
        read_only=True, allow_null=True, help_text="The local date the daily loss limit last tripped."
    )
    updated_at = serializers.DateTimeField(read_only=True, allow_null=True)


class RiskRulesView(ApiViewSet):
    serializer_class = RiskRulesSerializer

    @extend_schema(
        summary="Read the risk rules",
        description="The caller's rules; every rule is null until set.",
        responses={200: RiskRulesSerializer, **error_responses(*READ_ERRORS)},
        examples=[OpenApiExample("Rules", value=EXAMPLE, response_only=True)],
    )
    def retrieve(self, request: Request) -> Response:
        return Response(RiskRulesSerializer(actions.rules_for(self.user)).data)

    @extend_schema(
        summary="Replace the risk rules",
        description=(
            "Sets every rule at once: a rule left out or null no longer limits. Starts refused by a "
            "rule answer 409 `risk_limit`."
        ),
        request=RiskRulesSerializer,
        responses={200: RiskRulesSerializer, **error_responses(400, 401, 403, 429)},
        examples=[
            OpenApiExample("Rules", value=REQUEST_EXAMPLE, request_only=True),
            OpenApiExample("Saved", value=EXAMPLE, response_only=True),
        ],
    )
    def update(self, request: Request) -> Response:
        serializer = RiskRulesSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            rules = actions.do_save_rules(self.user, dict(serializer.validated_data))
        except actions.LeverageCapTooHigh as exc:
            raise validation_error({"max_leverage": [str(exc)]}) from exc
        return Response(RiskRulesSerializer(rules).data)
