"""Clients for API tests: DRF's APIClient carrying `Authorization: Bearer <token>`."""

from __future__ import annotations

from typing import Any

from rest_framework.test import APIClient

from accounts import tokens
from accounts.models import User


def bearer(user: User, scopes: str = "read,trade", **kwargs: Any) -> APIClient:
    issued = tokens.do_create_token(user, "tests", scopes.split(","), **kwargs)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {issued.plaintext}")
    client.token = issued.token  # type: ignore[attr-defined]
    return client


def error_of(response: Any) -> dict[str, Any]:
    """The one error shape, asserted on the way."""
    body = response.json()
    assert set(body) == {"error"}, body
    assert {"code", "message"} <= set(body["error"]), body
    return body["error"]
