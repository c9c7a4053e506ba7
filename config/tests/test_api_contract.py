"""The API's contract at its edges: whatever a script sends, every answer under /api/ is the
one JSON error shape, never an HTML page or a 500."""

from __future__ import annotations

import pytest

from accounts.models import User
from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user

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
