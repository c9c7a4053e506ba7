"""Webhook endpoints through the API: the page's rules (SSRF guard, events, the per-trader limit),
secrets shown only on create and rotate, pings to a real local receiver, the delivery log,
scopes, idempotency and tenant isolation."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from accounts.models import AuditEvent, IdempotencyKey
from accounts.tests.api import bearer, error_of
from bots.tests.webhook_server import receiver
from bots.webhooks import actions, delivery
from bots.webhooks.models import (
    MAX_ENDPOINTS_PER_USER,
    DeliveryStatus,
    WebhookDelivery,
    WebhookEndpoint,
    signing_secrets,
)

PUBLIC_URL = "https://93.184.216.34/gridwise"
BODY = {"url": PUBLIC_URL, "description": "My server", "events": ["order.filled", "bot.error"]}


@pytest.fixture
def endpoint(world: Any) -> WebhookEndpoint:
    return actions.do_create_endpoint(world.owner, url=PUBLIC_URL, events=["order.filled"])


def test_create_returns_the_secret_once(world: Any) -> None:
    client = bearer(world.owner)
    response = client.post("/api/v1/webhooks/", BODY, format="json")

    assert response.status_code == 201, response.content
    endpoint = WebhookEndpoint.objects.get(owner=world.owner)
    (secret,) = signing_secrets(endpoint)
    assert response.json() == {
        "id": endpoint.pk,
        "url": PUBLIC_URL,
        "description": "My server",
        "events": ["order.filled", "bot.error"],
        "enabled": True,
        "previous_secret_expires_at": None,
        "created_at": response.json()["created_at"],
        "updated_at": response.json()["updated_at"],
        "secret": secret,
    }
    assert AuditEvent.objects.filter(action="webhook_endpoint_added", actor=world.owner).exists()
    listing = client.get("/api/v1/webhooks/")
    read = client.get(f"/api/v1/webhooks/{endpoint.pk}/")
    assert [item["id"] for item in listing.json()["results"]] == [endpoint.pk]
    assert read.json()["url"] == PUBLIC_URL
    for answer in (listing, read):
        assert answer.status_code == 200
        assert secret not in answer.content.decode()
        assert "secret" not in answer.json().get("results", [answer.json()])[0]


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.1/hook", "private or reserved"),
        ("http://127.0.0.1:8000/hook", "private or reserved"),
        ("http://[::ffff:192.168.1.1]/", "private or reserved"),
        ("ftp://example.com/", "Only http:// and https://"),
        ("https://user:pw@93.184.216.34/", "Leave the user name and password out"),
        ("not a url", "Enter a valid URL"),
    ],
)
def test_an_unsafe_url_is_a_400_naming_url(world: Any, settings: Any, url: str, message: str) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = bearer(world.owner).post("/api/v1/webhooks/", {**BODY, "url": url}, format="json")

    assert response.status_code == 400
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert list(error["fields"]) == ["url"]
    assert message in error["fields"]["url"][0]
    assert not WebhookEndpoint.objects.exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": PUBLIC_URL, "events": []}, "events"),
        ({"url": PUBLIC_URL, "events": ["ping"]}, "events.0"),
        ({"url": PUBLIC_URL, "events": "order.filled"}, "events"),
        ({"events": ["order.filled"]}, "url"),
        ({**BODY, "description": "x" * 101}, "description"),
    ],
)
def test_bad_fields_are_400s_naming_them(world: Any, body: dict[str, Any], field: str) -> None:
    response = bearer(world.owner).post("/api/v1/webhooks/", body, format="json")
    assert response.status_code == 400
    assert field in error_of(response)["fields"]
    assert not WebhookEndpoint.objects.exists()


def test_the_endpoint_limit_is_a_409(world: Any) -> None:
    for number in range(MAX_ENDPOINTS_PER_USER):
        actions.do_create_endpoint(world.owner, url=f"{PUBLIC_URL}/{number}", events=["bot.error"])
    response = bearer(world.owner).post("/api/v1/webhooks/", BODY, format="json")
    assert response.status_code == 409
    assert error_of(response)["code"] == "endpoint_limit_reached"
    assert f"at most {MAX_ENDPOINTS_PER_USER}" in error_of(response)["message"]
    assert WebhookEndpoint.objects.owned_by(world.owner).count() == MAX_ENDPOINTS_PER_USER


def test_create_is_idempotent_and_the_stored_answer_keeps_the_secret_encrypted(world: Any) -> None:
    client = bearer(world.owner)
    first = client.post("/api/v1/webhooks/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="create-hook-1")
    again = client.post("/api/v1/webhooks/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="create-hook-1")

    assert (first.status_code, again.status_code) == (201, 201)
    assert again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert WebhookEndpoint.objects.count() == 1
    stored = IdempotencyKey.objects.get(key="create-hook-1")
    assert first.json()["secret"] not in str(stored.response_body)
    different = client.post(
        "/api/v1/webhooks/", {**BODY, "enabled": False}, format="json", HTTP_IDEMPOTENCY_KEY="create-hook-1"
    )
    assert different.status_code == 422
    assert WebhookEndpoint.objects.count() == 1


def test_update_replaces_or_patches_with_the_same_checks(
    world: Any, endpoint: WebhookEndpoint, settings: Any
) -> None:
    client = bearer(world.owner)
    where = f"/api/v1/webhooks/{endpoint.pk}/"
    (secret,) = signing_secrets(endpoint)

    paused = client.patch(where, {"enabled": False}, format="json")
    assert paused.status_code == 200, paused.content
    endpoint.refresh_from_db()
    assert (endpoint.enabled, endpoint.events, endpoint.url) == (False, ["order.filled"], PUBLIC_URL)

    replaced = client.put(
        where, {"url": f"{PUBLIC_URL}/v2", "events": ["bot.started", "bot.started"]}, format="json"
    )
    assert replaced.status_code == 200, replaced.content
    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.events, endpoint.enabled, endpoint.description) == (
        f"{PUBLIC_URL}/v2",
        ["bot.started"],
        True,
        "",
    )
    assert replaced.json()["events"] == ["bot.started"]
    assert signing_secrets(endpoint) == [secret], "editing keeps the secret"

    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    refused = client.patch(where, {"url": "http://169.254.169.254/latest/"}, format="json")
    assert refused.status_code == 400
    assert list(error_of(refused)["fields"]) == ["url"]
    endpoint.refresh_from_db()
    assert endpoint.url == f"{PUBLIC_URL}/v2"


def test_rotate_returns_the_new_secret_and_keeps_the_old_one_signing(
    world: Any, endpoint: WebhookEndpoint
) -> None:
    (old,) = signing_secrets(endpoint)
    response = bearer(world.owner).post(f"/api/v1/webhooks/{endpoint.pk}/rotate-secret/")

    assert response.status_code == 200, response.content
    endpoint.refresh_from_db()
    new, previous = signing_secrets(endpoint)
    assert (response.json()["secret"], previous) == (new, old)
    assert new != old
    assert response.json()["previous_secret_expires_at"] is not None
    assert AuditEvent.objects.filter(action="webhook_secret_rotated").exists()


def test_delete_removes_the_endpoint_and_its_log(world: Any, endpoint: WebhookEndpoint) -> None:
    actions.do_send_ping(endpoint)
    response = bearer(world.owner).delete(f"/api/v1/webhooks/{endpoint.pk}/")
    assert response.status_code == 204
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()
    assert AuditEvent.objects.filter(action="webhook_endpoint_deleted").exists()


def test_a_ping_reaches_a_real_receiver_and_the_log_shows_its_attempt(world: Any, settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    client = bearer(world.owner)
    with receiver([200]) as server:
        endpoint = actions.do_create_endpoint(world.owner, url=server.url, events=["bot.error"])
        queued = client.post(f"/api/v1/webhooks/{endpoint.pk}/ping/")
        assert queued.status_code == 202, queued.content
        assert (queued.json()["event_type"], queued.json()["status"]) == ("ping", "pending")
        # What the queued task does (the worker is not under test here).
        sent = delivery.attempt_delivery(queued.json()["id"])
        assert sent is not None
        assert sent.succeeded
        assert len(server.requests) == 1
        assert b'"type":"ping"' in server.requests[0].body

    log = client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/")
    assert log.status_code == 200
    (item,) = log.json()["results"]
    assert (item["id"], item["status"], item["attempt_count"]) == (
        queued.json()["id"],
        DeliveryStatus.SUCCEEDED,
        1,
    )
    (attempt,) = item["attempts"]
    assert (attempt["number"], attempt["status_code"], attempt["succeeded"]) == (1, 200, True)
    assert '"received": true' in attempt["response_body"]


def test_the_delivery_log_pages_by_cursor(world: Any, endpoint: WebhookEndpoint) -> None:
    pings = [actions.do_send_ping(endpoint).pk for _ in range(5)]
    client = bearer(world.owner)
    seen: list[int] = []
    url: str | None = f"/api/v1/webhooks/{endpoint.pk}/deliveries/?limit=2"
    while url:
        page = client.get(url)
        assert page.status_code == 200
        seen += [item["id"] for item in page.json()["results"]]
        url = page.json()["next"]
    assert seen == sorted(pings, reverse=True)
    bad = client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/?cursor=nonsense")
    assert bad.status_code == 404, "a cursor we never gave names no page"
    assert error_of(bad)["code"] == "invalid_cursor"
    assert "cursor" in error_of(bad)["fields"]


def _calls(endpoint_id: int) -> list[tuple[str, str, dict[str, Any] | None]]:
    where = f"/api/v1/webhooks/{endpoint_id}/"
    return [
        ("put", where, BODY),
        ("patch", where, {"enabled": False}),
        ("delete", where, None),
        ("post", f"{where}rotate-secret/", None),
        ("post", f"{where}ping/", None),
    ]


def test_a_read_token_reads_but_cannot_write(world: Any, endpoint: WebhookEndpoint) -> None:
    client = bearer(world.owner, scopes="read")
    assert client.get("/api/v1/webhooks/").status_code == 200
    assert client.get(f"/api/v1/webhooks/{endpoint.pk}/").status_code == 200
    assert client.get(f"/api/v1/webhooks/{endpoint.pk}/deliveries/").status_code == 200
    for method, url, body in [("post", "/api/v1/webhooks/", BODY), *_calls(endpoint.pk)]:
        response = getattr(client, method)(url, body, format="json")
        assert response.status_code == 403, (method, url)
        assert error_of(response)["code"] == "permission_denied"
    endpoint.refresh_from_db()
    assert endpoint.enabled
    assert WebhookEndpoint.objects.count() == 1
    assert not WebhookDelivery.objects.exists()


def test_another_traders_endpoint_is_a_404_everywhere(world: Any, endpoint: WebhookEndpoint) -> None:
    outsider = bearer(world.outsider)
    (secret,) = signing_secrets(endpoint)
    reads = [f"/api/v1/webhooks/{endpoint.pk}/", f"/api/v1/webhooks/{endpoint.pk}/deliveries/"]
    for url in reads:
        assert outsider.get(url).status_code == 404
    for method, url, body in _calls(endpoint.pk):
        response = getattr(outsider, method)(url, body, format="json")
        assert response.status_code == 404, (method, url)
        assert secret not in response.content.decode()
    assert outsider.get("/api/v1/webhooks/").json()["results"] == []
    endpoint.refresh_from_db()
    assert (endpoint.enabled, signing_secrets(endpoint)) == (True, [secret])
    assert not WebhookDelivery.objects.exists()


def test_anonymous_calls_are_401(endpoint: WebhookEndpoint) -> None:
    response = APIClient().get("/api/v1/webhooks/")
    assert response.status_code == 401
    assert error_of(response)["code"] == "not_authenticated"
