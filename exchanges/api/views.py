"""Exchange accounts through the API: the same checks and actions as the pages."""

from __future__ import annotations

from typing import Any

from allauth.core import ratelimit
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
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
from accounts.api.views import ApiViewSet, owned_or_404
from accounts.verification import UNVERIFIED_MESSAGE, has_verified_email
from billing import entitlements
from exchanges import actions
from exchanges.api.serializers import (
    SYMBOLS_PATTERN,
    CreatedExchangeAccountSerializer,
    ExchangeAccountCreateSerializer,
    ExchangeAccountSerializer,
    InstrumentSerializer,
    TickerQuerySerializer,
    TickerSerializer,
)
from exchanges.base import InvalidOrder, InvalidOrderReason
from exchanges.forms import ExchangeAccountForm, venue_value
from exchanges.models import CheckOutcome, Environment, ExchangeAccount, ExchangeName
from exchanges.registry import exchange_for_account
from exchanges.views import TOO_MANY_CHECKS

ACCOUNT_EXAMPLE = {
    "id": 7,
    "label": "Paper",
    "exchange": "paper",
    "environment": "paper",
    "base_url": "",
    "key_last4": "",
    "check_outcome": "ok",
    "check_messages": [],
    "last_checked_at": "2026-01-05T10:00:00Z",
    "permissions": {"can_read": True, "can_trade_spot": True, "can_withdraw": False},
    "created_at": "2026-01-05T10:00:00Z",
}
LABEL_TAKEN_PREFIX = "You already have an exchange account called"
# Form field -> API field, for errors the page's form reports.
_FIELD_NAMES = {"venue": "environment", "__all__": "non_field_errors"}


def _check_rate(request: Request) -> None:
    """Each check calls the venue from our address: the page's per-user limit applies."""
    if not ratelimit.consume(request._request, action="exchange_key_check", user=request.user):
        raise ApiError(429, "throttled", TOO_MANY_CHECKS, headers={"Retry-After": "3600"})


@extend_schema_view(
    list=extend_schema(
        summary="List your exchange accounts",
        description="Newest first. Keys never leave Gridwise: only their last 4 characters are shown.",
        responses={200: ExchangeAccountSerializer(many=True), **error_responses(400, *READ_ERRORS)},
        examples=[OpenApiExample("Accounts", value=ACCOUNT_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="Read one exchange account",
        description="One of your exchange accounts with the outcome of its last key check.",
        responses={200: ExchangeAccountSerializer, **error_responses(*OBJECT_ERRORS)},
        examples=[OpenApiExample("Account", value=ACCOUNT_EXAMPLE, response_only=True)],
    ),
    destroy=extend_schema(
        summary="Delete an exchange account",
        description="Removes the account and its stored key. Refused (409) while bots use the account.",
        responses={204: None, **error_responses(*OBJECT_ERRORS, 409)},
    ),
)
class ExchangeAccountViewSet(
    mixins.ListModelMixin, mixins.RetrieveModelMixin, mixins.DestroyModelMixin, ApiViewSet
):
    serializer_class = ExchangeAccountSerializer
    queryset = (
        ExchangeAccount.objects.none()
    )  # for the schema's path types; get_queryset scopes to the caller

    def get_queryset(self) -> QuerySet[ExchangeAccount]:
        return ExchangeAccount.objects.owned_by(self.user).order_by("-created_at", "-id")

    @extend_schema(
        summary="Connect an exchange account",
        description=(
            "A paper account needs only a label and starts with the paper exchange's default balances "
            "(10,000 USDT). A Bybit account needs `environment`, `api_key` and `api_secret`: the key is "
            "checked with Bybit and refused if it can withdraw, is read-only or cannot trade spot, exactly "
            "as on the page. The secret is write-only. Needs a verified email address."
        ),
        request=ExchangeAccountCreateSerializer,
        responses={
            201: CreatedExchangeAccountSerializer,
            **error_responses(400, 401, 403, 409, 422, 429, 503),
        },
        examples=[
            OpenApiExample("Paper", value={"exchange": "paper", "label": "Paper"}, request_only=True),
            OpenApiExample(
                "Bybit testnet",
                value={
                    "exchange": "bybit",
                    "label": "Bybit testnet",
                    "environment": "testnet",
                    "api_key": "XXXXXXXXXXXXXXXXXX",
                    "api_secret": "YYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYYY",
                },
                request_only=True,
            ),
            OpenApiExample("Created", value={**ACCOUNT_EXAMPLE, "warnings": []}, response_only=True),
        ],
    )
    def create(self, request: Request) -> Response:
        if not has_verified_email(self.user):
            raise ApiError(403, "email_not_verified", UNVERIFIED_MESSAGE)
        given = ExchangeAccountCreateSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data: dict[str, Any] = dict(given.validated_data)
        form = ExchangeAccountForm(self.user, _form_data(data))
        if not form.is_valid() or form.account is None:
            raise _invalid(form_error_fields(form, _FIELD_NAMES))
        entitlements.check_add_exchange_account(self.user)  # before the venue is called
        if form.account.needs_keys:
            _check_rate(request)
        check = actions.check_new_account(form.account)
        _raise_for_check(check)
        try:
            account = actions.do_add_account(request._request, form.account, check)
        except ValidationError as exc:
            raise _invalid(exc.message_dict) from exc
        body = CreatedExchangeAccountSerializer(account).data
        body["warnings"] = list(check.warnings)
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_destroy(self, instance: ExchangeAccount) -> None:
        try:
            actions.do_delete_account(self.request._request, instance)
        except actions.AccountInUse as exc:
            raise ApiError(409, "account_in_use", str(exc)) from exc

    @extend_schema(
        summary="Check the account's key again",
        description="Asks the venue what the key may do now and records the outcome (also audited).",
        request=None,
        responses={200: ExchangeAccountSerializer, **error_responses(*OBJECT_ERRORS, 409, 422)},
        examples=[OpenApiExample("Checked", value=ACCOUNT_EXAMPLE, response_only=True)],
    )
    @action(detail=True, methods=["post"])
    def check(self, request: Request, pk: str) -> Response:
        account = self.get_object()
        _check_rate(request)
        check = actions.check_key(account)
        actions.do_record_check(request._request, account, check)
        return Response(ExchangeAccountSerializer(account).data)

    @extend_schema(
        summary="Instruments the account can trade",
        description="Symbols with their filters (tick size, lot step, minimums) and the account's fees.",
        responses={200: InstrumentSerializer(many=True), **error_responses(*OBJECT_ERRORS, 502, 503)},
        examples=[
            OpenApiExample(
                "BTCUSDT",
                value=[
                    {
                        "symbol": "BTCUSDT",
                        "base": "BTC",
                        "quote": "USDT",
                        "tick_size": "0.1",
                        "quantity_step": "0.000001",
                        "min_quantity": "0.000011",
                        "min_amount": "5",
                        "max_quantity": "83",
                        "max_amount": "8000000",
                        "max_market_quantity": "41.5",
                        "maker_fee": "0.001",
                        "taker_fee": "0.001",
                    }
                ],
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def instruments(self, request: Request, pk: str) -> Response:
        account = self.get_object()
        found = exchange_for_account(account).instruments()
        return Response(InstrumentSerializer(found, many=True).data)

    @extend_schema(
        summary="Current prices",
        description="The last price, bid and ask for each requested symbol on the account's venue.",
        parameters=[
            OpenApiParameter(
                "symbols",
                {"type": "string", "pattern": SYMBOLS_PATTERN},
                required=True,
                description="Up to 20, comma-separated, e.g. BTCUSDT,ETHUSDT.",
            )
        ],
        responses={200: TickerSerializer(many=True), **error_responses(400, *OBJECT_ERRORS, 502, 503)},
        examples=[
            OpenApiExample(
                "BTCUSDT",
                value=[
                    {
                        "symbol": "BTCUSDT",
                        "last": "54000",
                        "bid": "53999.9",
                        "ask": "54000.1",
                        "time": "2026-01-05T10:00:00Z",
                    }
                ],
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["get"], pagination_class=None)
    def tickers(self, request: Request, pk: str) -> Response:
        account = self.get_object()
        query = TickerQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        exchange = exchange_for_account(account)
        symbols = dict.fromkeys(s.upper() for s in query.validated_data["symbols"].split(","))
        try:
            found = [exchange.ticker(symbol) for symbol in symbols]
        except InvalidOrder as exc:
            if exc.reason is not InvalidOrderReason.UNKNOWN_SYMBOL:
                raise
            # A market the venue does not have is a resource that is not there.
            message = exc.message or "The exchange does not trade this symbol."
            raise ApiError(404, "unknown_symbol", message, fields={"symbols": [message]}) from exc
        return Response(TickerSerializer(found, many=True).data)

    def get_object(self) -> ExchangeAccount:
        return owned_or_404(self.get_queryset(), self.kwargs["pk"])


def _form_data(data: dict[str, Any]) -> dict[str, str]:
    exchange = data["exchange"]
    environment = data.get("environment") or (Environment.PAPER if exchange == ExchangeName.PAPER else "")
    return {
        "label": data["label"],
        "venue": venue_value(exchange, environment),
        "base_url": data.get("base_url", ""),
        "api_key": data.get("api_key", ""),
        "api_secret": data.get("api_secret", ""),
    }


def _raise_for_check(check: actions.KeyCheck) -> None:
    if check.ok:
        return
    if check.outcome == CheckOutcome.UNAVAILABLE:
        raise ApiError(503, "exchange_unavailable", " ".join(check.errors))
    field = _FIELD_NAMES.get(check.field or "__all__", check.field or "non_field_errors")
    raise validation_error({field: list(check.errors)})


def _invalid(fields: dict[str, list[str]]) -> ApiError:
    """A label already in use conflicts with an existing account (409); the rest is a 400."""
    taken = fields.get("label", [""])[0].startswith(LABEL_TAKEN_PREFIX)
    if taken and set(fields) == {"label"}:
        return ApiError(409, "label_taken", fields["label"][0], fields=fields)
    return validation_error(fields)
