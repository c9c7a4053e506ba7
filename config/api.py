"""The scripts API: its routes under /api/v1/, the schema and docs, and how errors look.

Each app defines its endpoints in its own `api` package; this module mounts them and
translates domain errors (strategy, lifecycle, exchange) into the one error shape.
"""

from __future__ import annotations

import decimal
import math
from typing import Any

from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerSplitView
from rest_framework.response import Response
from rest_framework.routers import DefaultRouter

from accounts.api.errors import ApiError, render_api_exception, validation_error
from accounts.api.handlers import too_large_message
from billing.entitlements import PlanLimitReached
from bots.actions import InvalidTransition
from bots.api.backtest_views import BacktestViewSet, OptimisationViewSet
from bots.api.views import BotViewSet
from bots.api.webhook_views import WebhookEndpointViewSet
from bots.strategies.grid import GridConfigError
from config.csp import csp_allow
from exchanges import base as exchange_errors
from exchanges.api.views import ExchangeAccountViewSet
from exchanges.registry import VenueNotAllowed
from notifications.api.alerts import PriceAlertViewSet
from notifications.api.views import NotificationViewSet
from risk.api import RiskRulesView
from risk.checks import RiskLimitReached
from trading.api.views import FillViewSet

router = DefaultRouter(trailing_slash=True)
router.include_root_view = False
router.register("exchange-accounts", ExchangeAccountViewSet, basename="api-exchange-account")
router.register("bots", BotViewSet, basename="api-bot")
router.register("fills", FillViewSet, basename="api-fill")
router.register("webhooks", WebhookEndpointViewSet, basename="api-webhook")
# Before "backtests": its detail route would otherwise take "optimize" for an id.
router.register("backtests/optimize", OptimisationViewSet, basename="api-optimisation")
router.register("backtests", BacktestViewSet, basename="api-backtest")
router.register("notifications", NotificationViewSet, basename="api-notification")
router.register("alerts", PriceAlertViewSet, basename="api-price-alert")

urlpatterns = [
    path(
        "v1/risk-rules/", RiskRulesView.as_view({"get": "retrieve", "put": "update"}), name="api-risk-rules"
    ),
    path("v1/", include(router.urls)),
    path("schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "docs/",
        SpectacularSwaggerSplitView.as_view(url_name="api-schema", template_name="api/swagger_ui.html"),
        name="api-docs",
    ),
    # Redoc writes its styles into the page as it renders; its script is still our static file.
    path(
        "redoc/",
        csp_allow(style_src=["'unsafe-inline'"], worker_src=["blob:"])(
            SpectacularRedocView.as_view(url_name="api-schema", template_name="api/redoc.html")
        ),
        name="api-redoc",
    ),
]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    return render_api_exception(translate(exc))


def translate(exc: Exception) -> Exception:
    """A domain error as the `ApiError` a script can act on; others pass through."""
    if isinstance(exc, RequestDataTooBig):
        return ApiError(413, "request_too_large", too_large_message())
    if isinstance(exc, GridConfigError):
        return validation_error(exc.errors)
    if isinstance(exc, PlanLimitReached):
        return ApiError(403, "plan_limit", exc.refusal.message, fields=exc.refusal.as_fields())
    if isinstance(exc, RiskLimitReached):
        return ApiError(409, "risk_limit", str(exc))
    if isinstance(exc, InvalidTransition):
        return ApiError(409, "invalid_transition", str(exc))
    if isinstance(exc, DjangoValidationError):
        fields = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        return validation_error(fields)
    if isinstance(exc, exchange_errors.ExchangeError):
        return _exchange_error(exc)
    if isinstance(exc, decimal.InvalidOperation | decimal.Overflow | decimal.DivisionByZero):
        return validation_error(
            {"non_field_errors": ["These numbers are out of the range Gridwise can trade."]}
        )
    return exc


def _exchange_error(exc: exchange_errors.ExchangeError) -> ApiError:
    message = exc.message or "The exchange refused the request."
    if isinstance(exc, exchange_errors.InvalidOrder):
        field = (
            "symbol"
            if exc.reason is exchange_errors.InvalidOrderReason.UNKNOWN_SYMBOL
            else "non_field_errors"
        )
        return validation_error({field: [message]})
    if isinstance(exc, exchange_errors.InsufficientBalance):
        return ApiError(400, "insufficient_balance", message)
    if isinstance(exc, exchange_errors.RateLimited):
        wait = str(max(1, math.ceil(exc.retry_after)))
        return ApiError(
            503,
            "exchange_rate_limited",
            f"The exchange is limiting requests; retry in {wait} s.",
            headers={"Retry-After": wait},
        )
    if isinstance(exc, exchange_errors.ExchangeUnavailable):
        return ApiError(503, "exchange_unavailable", f"{message} Nothing was changed.")
    if isinstance(exc, VenueNotAllowed):
        # Our own setting, not the venue's answer: the venue was never contacted.
        return ApiError(
            403,
            "exchange_address_not_allowed",
            "This Gridwise server does not connect to custom exchange addresses: its "
            "ALLOW_CUSTOM_EXCHANGE_URLS setting is off. The exchange was not contacted.",
        )
    if isinstance(exc, exchange_errors.AuthError | exchange_errors.PermissionDenied):
        return ApiError(502, "exchange_refused_key", f"The exchange refused the account's API key: {message}")
    return ApiError(502, "exchange_error", f"The exchange answered with an error: {message}")
