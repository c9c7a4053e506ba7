"""The API's contract at its edges: whatever a script sends, every answer under /api/ is the
one JSON error shape, never an HTML page or a 500."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from rest_framework import serializers

from accounts.api.fields import StrictBooleanField, StrictCharField, StrictDecimalField, StrictRegexField
from accounts.models import User
from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots.tests.conftest import paper_account_for
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper import market

pytestmark = pytest.mark.django_db


@pytest.fixture
def trader() -> User:
    return make_user(email="contract@example.com")


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def deep_object(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("post", "/api/v1/bots/preview/"),
        ("post", "/api/v1/bots/"),
        ("post", "/api/v1/webhooks/"),
    ],
)
@pytest.mark.parametrize("body", [nested(1000), deep_object(1000), nested(100_000)])
def test_deeply_nested_json_is_a_400_in_the_error_shape(
    trader: User, method: str, path: str, body: str
) -> None:
    response = getattr(bearer(trader), method)(path, body, content_type="application/json")
    assert response.status_code == 400, response.content[:300]
    error = error_of(response)
    assert error["code"] == "parse_error"
    assert "32" in error["message"]


def test_json_nested_to_the_limit_is_parsed(trader: User) -> None:
    body = '{"name": "x", "extra": ' + nested(30) + "}"
    response = bearer(trader).post("/api/v1/webhooks/", body, content_type="application/json")
    assert response.status_code == 400
    assert error_of(response)["code"] == "validation_error", "parsed, then refused for its fields"


# Answers that never reach a view ---------------------------------------------------------


@pytest.fixture
def production(settings: Any) -> None:
    """Django's error handlers only run with DEBUG off; debug pages are the developer's."""
    settings.DEBUG = False


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/nothing/"),
        ("get", "/api/v1/bots/1/nothing/"),
        ("get", "/api/nothing"),
        ("get", "/api/v1/bots/abc/"),
        ("patch", "/api/v1/bots/abc/"),
        ("delete", "/api/v1/bots/abc/"),
        ("get", "/api/v1/bots/abc/events/"),
        ("get", "/api/v1/exchange-accounts/1.5/"),
    ],
)
def test_unknown_paths_and_malformed_ids_are_json_404s(
    trader: User, production: None, method: str, path: str
) -> None:
    response = getattr(bearer(trader), method)(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert error_of(response)["code"] == "not_found"


def test_pages_outside_the_api_keep_their_html_404(client: Client, production: None) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("text/html")


@pytest.mark.parametrize("path", ["/api/v1/bots/preview/", "/api/v1/bots/", "/api/v1/webhooks/"])
def test_an_oversized_body_is_a_json_413(trader: User, production: None, settings: Any, path: str) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    body = '{"name": "' + "x" * 2000 + '"}'
    response = bearer(trader).post(path, body, content_type="application/json")
    assert response.status_code == 413
    error = error_of(response)
    assert error["code"] == "request_too_large"
    assert "1000 bytes" in error["message"]


def test_a_crash_under_the_api_is_a_json_500(
    trader: User, production: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("boom")

    monkeypatch.setattr("bots.api.views.BotViewSet.list", crash)
    client = bearer(trader)
    client.raise_request_exception = False
    response = client.get("/api/v1/bots/")
    assert response.status_code == 500
    error = error_of(response)
    assert error["code"] == "server_error"
    assert "boom" not in error["message"]


def test_a_bad_request_outside_drf_is_a_json_400(trader: User, production: None) -> None:
    response = bearer(trader).get("/api/v1/bots/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert error_of(response)["code"] == "bad_request"


def test_a_refused_permission_outside_drf_is_a_json_403(rf: Any, production: None) -> None:
    from django.core.exceptions import PermissionDenied

    from accounts.api import handlers

    response = handlers.permission_denied(rf.get("/api/v1/bots/"), PermissionDenied())
    assert response.status_code == 403
    assert json.loads(response.content)["error"]["code"] == "permission_denied"
    page = handlers.permission_denied(rf.get("/bots/"), PermissionDenied())
    assert page.status_code == 403
    assert page["Content-Type"].startswith("text/html")


# Strict input --------------------------------------------------------------------------


@pytest.fixture
def account(trader: User) -> ExchangeAccount:
    market.set_price("BTCUSDT", Decimal("54000"))
    return paper_account_for(trader)


GRID = {
    "symbol": "BTCUSDT",
    "lower_price": "45000",
    "upper_price": "65000",
    "grid_count": 5,
    "spacing": "arithmetic",
    "direction": "long",
    "investment": "1000",
}


@pytest.mark.parametrize(
    "price",
    [
        "45_000",
        "4_5000",
        "\u0664\u0665\u0660\u0660\u0660",
        "\u06f4\u06f5\u06f0\u06f0\u06f0",
        "\uff14\uff15\uff10\uff10\uff10",
        " 45000",
        "45000\n",
        "4.5e4",
        "+-45000",
        True,
    ],
)
def test_decimals_accept_only_plain_ascii_numbers(trader: User, account: ExchangeAccount, price: Any) -> None:
    body = {**GRID, "account": account.pk, "lower_price": price}
    response = bearer(trader).post("/api/v1/bots/preview/", body, format="json")
    assert response.status_code == 400, response.content
    assert "lower_price" in error_of(response)["fields"]


@pytest.mark.parametrize("price", ["45000", "45000.5", "-0", "45000.", ".5", 45000, 45000.5])
def test_plain_decimals_still_pass_their_checks(trader: User, account: ExchangeAccount, price: Any) -> None:
    body = {**GRID, "account": account.pk, "lower_price": price}
    response = bearer(trader).post("/api/v1/bots/preview/", body, format="json")
    fields = error_of(response).get("fields", {}) if response.status_code == 400 else {}
    assert "Enter a plain number" not in str(fields.get("lower_price"))


@pytest.mark.parametrize("value", [0, 1, "true", "yes", "1", None, [True]])
def test_booleans_accept_only_true_and_false(trader: User, account: ExchangeAccount, value: Any) -> None:
    client = bearer(trader)
    response = client.post("/api/v1/bots/stop-all/", {"sell_base": value}, format="json")
    assert response.status_code == 400, response.content
    assert error_of(response)["fields"]["sell_base"]
    hook = client.post("/api/v1/webhooks/", {"url": "https://example.com/x", "enabled": value}, format="json")
    assert hook.status_code == 400
    assert "enabled" in error_of(hook)["fields"]


@pytest.mark.parametrize("value", [0, 12.5, True, ["name"], {"a": "b"}])
def test_strings_accept_only_strings(trader: User, account: ExchangeAccount, value: Any) -> None:
    client = bearer(trader)
    body = {**GRID, "account": account.pk, "name": value}
    response = client.post("/api/v1/bots/", body, format="json")
    assert response.status_code == 400, response.content
    assert error_of(response)["fields"]["name"] == ["Must be a string."]
    symbol = client.post(
        "/api/v1/bots/preview/", {**GRID, "account": account.pk, "symbol": value}, format="json"
    )
    assert "symbol" in error_of(symbol)["fields"]


def test_every_writable_field_is_strict() -> None:
    """A plain DRF CharField, BooleanField or DecimalField coerces 0, "yes" and "1_000"."""
    lenient = (serializers.CharField, serializers.BooleanField, serializers.DecimalField)
    strict = (StrictCharField, StrictRegexField, StrictBooleanField, StrictDecimalField)
    found = []
    for serializer in _api_serializers():
        for name, field in _writable_fields(serializer()):
            if isinstance(field, lenient) and not isinstance(field, strict):
                found.append(f"{serializer.__name__}.{name}")
    assert found == []


def _api_serializers() -> list[type[serializers.Serializer[Any]]]:
    import importlib
    import inspect

    found = []
    for module_name in (
        "bots.api.serializers",
        "bots.api.webhook_serializers",
        "exchanges.api.serializers",
        "trading.api.serializers",
    ):
        module = importlib.import_module(module_name)
        found += [
            value
            for value in vars(module).values()
            if inspect.isclass(value)
            and issubclass(value, serializers.Serializer)
            and value.__module__ == module_name
        ]
    return found


def _writable_fields(serializer: Any, prefix: str = "") -> list[tuple[str, Any]]:
    found = []
    for name, field in serializer.fields.items():
        if field.read_only:
            continue
        found.append((prefix + name, field))
        child = getattr(field, "child", None)
        if child is not None and not child.read_only:
            found.append((f"{prefix}{name}[]", child))
        if isinstance(field, serializers.Serializer):
            found += _writable_fields(field, f"{prefix}{name}.")
    return found


# Pagination and exchange errors --------------------------------------------------------


@pytest.mark.parametrize("limit", ["0", "1001", "-1", "abc", "\u0661\u0660"])
def test_limit_out_of_bounds_is_a_400(trader: User, limit: str) -> None:
    response = bearer(trader).get("/api/v1/fills/", {"limit": limit})
    assert response.status_code == 400
    assert "limit" in error_of(response)["fields"]


def test_the_schema_bounds_limit() -> None:
    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    limits = [
        parameter["schema"]
        for methods in document["paths"].values()
        for operation in methods.values()
        for parameter in operation.get("parameters", [])
        if parameter["name"] == "limit"
    ]
    assert limits
    for schema in limits:
        assert (schema["minimum"], schema["maximum"]) == (1, 1000), schema


def test_a_custom_address_turned_off_here_names_our_setting_not_the_exchange(
    trader: User, settings: Any
) -> None:
    account = ExchangeAccount(
        owner=trader,
        label="Internal",
        exchange=ExchangeName.BYBIT,
        environment=Environment.CUSTOM,
        base_url="http://10.0.0.1/",
    )
    account.set_credentials("key-0123456789", "secret-0123456789")
    account.save()
    settings.ALLOW_CUSTOM_EXCHANGE_URLS = False

    response = bearer(trader).get(f"/api/v1/exchange-accounts/{account.pk}/instruments/")

    assert response.status_code == 403
    error = error_of(response)
    assert error["code"] == "exchange_address_not_allowed"
    assert "ALLOW_CUSTOM_EXCHANGE_URLS" in error["message"]
    assert "exchange refused" not in error["message"]


# What schemathesis holds the schema to ------------------------------------------------------


@pytest.mark.parametrize("query", ["symbol=", "bot=", "side=", "since=", "symbol=&side=buy"])
def test_an_empty_filter_is_a_400_not_silently_dropped(trader: User, query: str) -> None:
    for path in ("/api/v1/fills/", "/api/v1/fills/export/"):
        response = bearer(trader).get(f"{path}?{query}")
        assert response.status_code == 400, path
        assert error_of(response)["fields"]


def test_a_window_ending_before_it_starts_holds_no_fills(trader: User) -> None:
    query = {"since": "2026-01-02T00:00:00Z", "until": "2026-01-01T00:00:00Z"}
    response = bearer(trader).get("/api/v1/fills/", query)
    assert response.status_code == 200
    assert response.json()["results"] == []


def test_decimal_fields_say_in_the_schema_what_they_take() -> None:
    import re

    from drf_spectacular.generators import SchemaGenerator

    document = SchemaGenerator().get_schema(request=None, public=True)
    price = document["components"]["schemas"]["PreviewRequestRequest"]["properties"]["lower_price"]
    pattern = re.compile(price["pattern"])
    for accepted in ("54000", "54000.5", ".5", "0"):
        assert pattern.search(accepted), accepted
    for refused in ("", "-1", ".", "1_000", "1e5"):
        assert not pattern.search(refused), refused
    webhook = document["components"]["schemas"]["WebhookEndpointWriteRequest"]["properties"]
    assert webhook["url"]["format"] == "uri"
    assert webhook["events"]["minItems"] == 1


def test_a_ticker_for_a_market_the_venue_lacks_is_a_404(trader: User, account: ExchangeAccount) -> None:
    response = bearer(trader).get(f"/api/v1/exchange-accounts/{account.pk}/tickers/", {"symbols": "NOPEUSDT"})
    assert response.status_code == 404
    error = error_of(response)
    assert error["code"] == "unknown_symbol"
    assert "symbols" in error["fields"]


def test_the_schema_describes_both_strategies_shapes_without_a_warning() -> None:
    from drf_spectacular.drainage import GENERATOR_STATS
    from drf_spectacular.generators import SchemaGenerator

    GENERATOR_STATS.reset()
    document = SchemaGenerator().get_schema(request=None, public=True)
    assert not GENERATOR_STATS._warn_cache, list(GENERATOR_STATS._warn_cache)
    schemas = document["components"]["schemas"]
    create = document["paths"]["/api/v1/bots/"]["post"]["requestBody"]["content"]["application/json"]
    assert create["schema"] == {"$ref": "#/components/schemas/BotWriteByStrategyRequest"}
    shapes = {ref["$ref"].rsplit("/", 1)[1] for ref in schemas["BotWriteByStrategyRequest"]["oneOf"]}
    assert shapes == {"BotWriteRequest", "DcaBotWriteRequest", "FuturesBotWriteRequest"}
    assert "max_safety_orders" in schemas["DcaBotWriteRequest"]["properties"]
    assert "liquidation_stop_distance" in schemas["FuturesBotWriteRequest"]["properties"]
    preview = {ref["$ref"].rsplit("/", 1)[1] for ref in schemas["PreviewByStrategy"]["oneOf"]}
    assert preview == {"Preview", "DcaPreview", "FuturesGridPreview"}
    assert "safety_orders" in schemas["DcaPreview"]["properties"]
    assert "liquidation_price" in schemas["FuturesGridPreview"]["properties"]
    bodies = {ref["$ref"].rsplit("/", 1)[1] for ref in schemas["PreviewRequestByStrategyRequest"]["oneOf"]}
    assert bodies == {"PreviewRequestRequest", "DcaPreviewRequestRequest", "FuturesGridPreviewRequestRequest"}
    assert "leverage" in schemas["FuturesGridPreviewRequestRequest"]["properties"]
    assert schemas["Bot"]["properties"]["config"]["allOf"] == [
        {"$ref": "#/components/schemas/BotConfigByStrategy"}
    ]
    configs = {ref["$ref"].rsplit("/", 1)[1] for ref in schemas["BotConfigByStrategy"]["oneOf"]}
    assert configs == {"BotConfigOut", "DcaConfigOut", "FuturesGridConfigOut"}
    start = document["paths"]["/api/v1/bots/{id}/start/"]["post"]["requestBody"]["content"][
        "application/json"
    ]
    assert start["schema"] == {"$ref": "#/components/schemas/StartRequest"}
