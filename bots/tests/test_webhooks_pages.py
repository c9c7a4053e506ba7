"""Webhook pages under account settings: the owner's, nobody else's."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import AuditEvent
from bots.webhooks import actions, emit
from bots.webhooks.events import EventType
from bots.webhooks.models import WebhookDelivery, WebhookEndpoint, signing_secrets

PUBLIC_URL = "https://93.184.216.34/gridwise"


@pytest.fixture
def owner_client(client: Client, world: Any) -> Client:
    client.force_login(world.owner)
    return client


@pytest.fixture
def endpoint(world: Any) -> WebhookEndpoint:
    return actions.do_create_endpoint(world.owner, url=PUBLIC_URL, events=["order.filled"])


def test_the_owner_adds_an_endpoint_and_sees_its_secret(owner_client: Client, world: Any) -> None:
    listing = owner_client.get(reverse("webhooks"))
    assert listing.status_code == 200
    assert b"Webhooks" in listing.content

    response = owner_client.post(
        reverse("webhooks"),
        {
            "url": PUBLIC_URL,
            "description": "My server",
            "events": ["order.filled", "bot.error"],
            "enabled": "on",
        },
    )

    endpoint = WebhookEndpoint.objects.get(owner=world.owner)
    assert response.status_code == 302
    assert response["Location"] == reverse("webhook_detail", args=[endpoint.pk])
    assert (endpoint.url, endpoint.events, endpoint.enabled) == (
        PUBLIC_URL,
        ["order.filled", "bot.error"],
        True,
    )
    (secret,) = signing_secrets(endpoint)
    assert secret.startswith("whsec_")
    assert secret not in endpoint.secret_encrypted, "stored encrypted"
    detail = owner_client.get(reverse("webhook_detail", args=[endpoint.pk]))
    assert secret in detail.content.decode()
    assert secret not in owner_client.get(reverse("webhooks")).content.decode()
    assert AuditEvent.objects.filter(action="webhook_endpoint_added", actor=world.owner).exists()
    assert secret not in str(AuditEvent.objects.values_list("details", flat=True)[0])


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://10.0.0.1/", "private or reserved"),
        ("http://localhost:8000/hook", "private or reserved"),
        ("ftp://example.com/", "Only http:// and https://"),
        ("not a url", "Enter a valid URL"),
    ],
)
def test_a_bad_url_is_a_field_error(owner_client: Client, settings: Any, url: str, message: str) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    response = owner_client.post(reverse("webhooks"), {"url": url, "events": ["order.filled"]})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not WebhookEndpoint.objects.exists()


def test_no_events_is_a_field_error(owner_client: Client) -> None:
    response = owner_client.post(reverse("webhooks"), {"url": PUBLIC_URL})
    assert response.status_code == 400
    assert "Choose at least one event" in response.content.decode()


def test_the_owner_edits_disables_pings_rotates_and_deletes(
    owner_client: Client, endpoint: WebhookEndpoint
) -> None:
    detail = reverse("webhook_detail", args=[endpoint.pk])
    response = owner_client.post(detail, {"url": PUBLIC_URL, "events": ["bot.started", "bot.stopped"]})
    assert response.status_code == 302
    endpoint.refresh_from_db()
    assert (endpoint.events, endpoint.enabled) == (["bot.started", "bot.stopped"], False)
    assert not emit.owner_has_endpoints(endpoint.owner_id), "disabled: the hot path skips this owner"

    (old_secret,) = signing_secrets(endpoint)
    assert owner_client.post(reverse("webhook_rotate", args=[endpoint.pk])).status_code == 302
    endpoint.refresh_from_db()
    new_secret, previous = signing_secrets(endpoint)
    assert (previous, new_secret != old_secret) == (old_secret, True)

    assert owner_client.post(reverse("webhook_ping", args=[endpoint.pk])).status_code == 302
    ping = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (ping.event_type, ping.max_attempts) == (EventType.PING, 1)
    page = owner_client.get(detail).content.decode()
    assert ping.event_id in page
    delivery_page = owner_client.get(reverse("webhook_delivery", args=[endpoint.pk, ping.pk]))
    assert delivery_page.status_code == 200
    assert "Test ping from Gridwise" in delivery_page.content.decode()
    assert new_secret not in delivery_page.content.decode()
    fragment = owner_client.get(detail, headers={"HX-Request": "true"})
    assert ping.event_id in fragment.content.decode()
    assert "<html" not in fragment.content.decode()

    assert owner_client.post(reverse("webhook_delete", args=[endpoint.pk])).status_code == 302
    assert not WebhookEndpoint.objects.exists()
    assert not WebhookDelivery.objects.exists()


def test_another_users_endpoint_is_a_404_everywhere(
    client: Client, world: Any, endpoint: WebhookEndpoint
) -> None:
    (ping,) = emit.create_deliveries([endpoint], EventType.PING, {"message": "hi"}, max_attempts=1)
    secrets_before = endpoint.secret_encrypted
    client.force_login(world.outsider)

    for name, args in [
        ("webhook_detail", [endpoint.pk]),
        ("webhook_delivery", [endpoint.pk, ping.pk]),
    ]:
        assert client.get(reverse(name, args=args)).status_code == 404
    for name in ("webhook_detail", "webhook_ping", "webhook_rotate", "webhook_delete"):
        response = client.post(
            reverse(name, args=[endpoint.pk]), {"url": "https://93.184.216.35/", "events": ["bot.error"]}
        )
        assert response.status_code == 404, name

    endpoint.refresh_from_db()
    assert (endpoint.url, endpoint.secret_encrypted) == (PUBLIC_URL, secrets_before)
    assert WebhookDelivery.objects.count() == 1
    assert PUBLIC_URL not in client.get(reverse("webhooks")).content.decode()


def test_signed_out_visitors_are_sent_to_log_in(client: Client, endpoint: WebhookEndpoint) -> None:
    response = client.get(reverse("webhook_detail", args=[endpoint.pk]))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_endpoint_limit_is_a_clear_error(owner_client: Client, world: Any) -> None:
    for number in range(10):
        actions.do_create_endpoint(world.owner, url=f"{PUBLIC_URL}/{number}", events=["bot.error"])
    response = owner_client.post(reverse("webhooks"), {"url": PUBLIC_URL, "events": ["bot.error"]})
    assert response.status_code == 400
    assert "at most 10 webhook endpoints" in response.content.decode()
