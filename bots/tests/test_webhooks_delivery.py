"""Webhook deliveries against a real HTTP server on 127.0.0.1: signatures, retries, timeouts, SSRF."""

from __future__ import annotations

import json
import socket
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from bots.tests.test_webhooks_signing import independent_verify
from bots.tests.webhook_server import receiver
from bots.webhooks import actions, delivery, emit, guard, tasks
from bots.webhooks.events import EventType
from bots.webhooks.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint, signing_secrets

EVENTS = ["order.filled", "bot.started"]


def endpoint_for(user: User, url: str, events: list[str] | None = None) -> WebhookEndpoint:
    return actions.do_create_endpoint(user, url=url, events=events or EVENTS)


def one_delivery(endpoint: WebhookEndpoint, data: dict[str, Any] | None = None) -> WebhookDelivery:
    (created,) = emit.create_deliveries(
        [endpoint], EventType.ORDER_FILLED, data or {"price": Decimal("1.50")}
    )
    return created


@pytest.fixture
def private_allowed(settings: Any) -> Any:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    return settings


def test_fails_twice_then_succeeds_with_the_expected_backoff(world: Any, private_allowed: Any) -> None:
    with receiver([500, 500, 200]) as server:
        endpoint = endpoint_for(world.owner, server.url)
        sent = one_delivery(endpoint)
        start = timezone.now()

        first = delivery.attempt_delivery(sent.pk, now=start)
        sent.refresh_from_db()
        assert first is not None
        assert (first.succeeded, first.retry_in) == (False, 10)
        assert (sent.status, sent.next_attempt_at) == (DeliveryStatus.PENDING, start + timedelta(seconds=10))
        assert delivery.attempt_delivery(sent.pk, now=start + timedelta(seconds=9)) is None, "not due yet"

        second = delivery.attempt_delivery(sent.pk, now=start + timedelta(seconds=10))
        sent.refresh_from_db()
        assert second is not None
        assert second.retry_in == 60
        assert sent.next_attempt_at == start + timedelta(seconds=70)

        third = delivery.attempt_delivery(sent.pk, now=start + timedelta(seconds=70))
        assert third is not None
        assert (third.succeeded, third.retry_in) == (True, None)

    sent.refresh_from_db()
    assert (sent.status, sent.attempt_count, sent.next_attempt_at) == (DeliveryStatus.SUCCEEDED, 3, None)
    attempts = list(sent.attempts.all())
    assert [(a.number, a.status_code, a.succeeded) for a in attempts] == [
        (1, 500, False),
        (2, 500, False),
        (3, 200, True),
    ]
    assert all(a.duration_ms is not None for a in attempts)
    assert attempts[-1].response_body == '{"received": true, "status": 200}'
    assert attempts[0].error == "HTTP 500"
    (secret,) = signing_secrets(endpoint)
    assert len(server.requests) == 3
    for number, request in enumerate(server.requests, start=1):
        assert request.body == sent.body.encode(), "every attempt sends the same body"
        assert independent_verify(secret, request.headers["Gridwise-Signature"], request.body)
        assert request.headers["Gridwise-Delivery-Attempt"] == str(number)
        assert request.headers["Gridwise-Event-Id"] == sent.event_id
        assert secret not in json.dumps(request.headers)
        assert secret not in request.body.decode()
    assert not any(secret in (a.error + a.response_body) for a in attempts)


def test_five_failures_end_the_delivery_and_the_backoff_grows(world: Any, private_allowed: Any) -> None:
    with receiver([503]) as server:
        sent = one_delivery(endpoint_for(world.owner, server.url))
        when = timezone.now()
        waits = []
        for _ in range(5):
            result = delivery.attempt_delivery(sent.pk, now=when)
            assert result is not None
            assert not result.succeeded
            waits.append(result.retry_in)
            when += timedelta(seconds=result.retry_in or 0)
        assert delivery.attempt_delivery(sent.pk, now=when + timedelta(days=1)) is None

    assert waits == [10, 60, 300, 1800, None]
    sent.refresh_from_db()
    assert (sent.status, sent.attempt_count, sent.attempts.count()) == (DeliveryStatus.FAILED, 5, 5)
    assert len(server.requests) == 5


def test_a_slow_receiver_times_out_and_a_retry_is_scheduled(world: Any, private_allowed: Any) -> None:
    private_allowed.WEBHOOK_TIMEOUT = 0.5
    with receiver([200], delay=2.0) as server:
        sent = one_delivery(endpoint_for(world.owner, server.url))
        result = delivery.attempt_delivery(sent.pk)

    assert result is not None
    assert (result.succeeded, result.retry_in) == (False, 10)
    sent.refresh_from_db()
    attempt = sent.attempts.get()
    assert attempt.status_code is None
    assert attempt.error.startswith("Timed out")
    assert attempt.duration_ms is not None
    assert 400 <= attempt.duration_ms < 2000
    assert sent.status == DeliveryStatus.PENDING
    assert sent.next_attempt_at is not None
    assert sent.lease_until is None


def test_the_task_requeues_itself_with_the_backoff_countdown(
    world: Any, private_allowed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(tasks.deliver_webhook, "apply_async", lambda args, **kw: queued.append((args, kw)))
    with receiver([500]) as server:
        sent = one_delivery(endpoint_for(world.owner, server.url))
        tasks.deliver_webhook(sent.pk)

    assert queued == [((sent.pk,), {"countdown": 10})]


def test_the_sweep_resends_a_delivery_whose_worker_died(
    world: Any, private_allowed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[int] = []
    monkeypatch.setattr(tasks.deliver_webhook, "delay", queued.append)
    with receiver([200]) as server:
        sent = one_delivery(endpoint_for(world.owner, server.url))
        long_ago = timezone.now() - timedelta(minutes=5)
        # A worker claimed it, recorded the attempt's start and died before the answer.
        claimed = delivery._claim(sent.pk, timezone.now())
        assert claimed is not None
        WebhookDelivery.objects.filter(pk=sent.pk).update(next_attempt_at=long_ago)
        assert tasks.sweep_due_deliveries() == 0, "its lease has not expired"
        WebhookDelivery.objects.filter(pk=sent.pk).update(lease_until=long_ago)

        assert tasks.sweep_due_deliveries() == 1
        assert queued == [sent.pk]
        result = delivery.attempt_delivery(sent.pk)

    assert result is not None
    assert result.succeeded
    assert result.number == 2
    lost, delivered = sent.attempts.all()
    assert lost.error == delivery.WORKER_LOST
    assert delivered.status_code == 200


# SSRF -------------------------------------------------------------------------

REFUSED = [
    "http://127.0.0.1/hook",
    "http://10.0.0.1/",
    "http://[::1]/",
    "http://169.254.169.254/latest/meta-data/",
    "http://localhost/hook",
    "http://[::ffff:127.0.0.1]/",
    "http://224.0.0.1/",
    "http://0.0.0.0/",
]


@pytest.mark.parametrize("url", REFUSED)
def test_private_addresses_are_refused_when_registering(url: str, settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    with pytest.raises(guard.UnsafeURL, match="private or reserved"):
        guard.check_url(url)

    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    assert guard.check_url(url).host in url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("ftp://example.com/", "Only http"),
        ("file:///etc/passwd", "Only http"),
        ("http://user:pass@93.184.216.34/", "user name"),
        ("http://no-such-host.invalid/", "could not be found"),
        ("http://93.184.216.34:99999/", "not a valid URL"),
    ],
)
def test_other_bad_urls_are_refused_whatever_the_setting(url: str, reason: str, private_allowed: Any) -> None:
    with pytest.raises(guard.UnsafeURL, match=reason):
        guard.check_url(url)


def test_a_public_address_is_accepted_with_the_setting_off(settings: Any) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    assert guard.check_url("https://93.184.216.34/hook").address == "93.184.216.34"
    assert guard.check_url("http://[2606:4700::1111]/").address == "2606:4700::1111"


@pytest.mark.parametrize(
    "url", ["http://10.0.0.1/", "http://[::1]/", "http://169.254.169.254/", "http://localhost/x"]
)
def test_private_addresses_are_refused_at_delivery_without_connecting(
    url: str, world: Any, private_allowed: Any
) -> None:
    sent = one_delivery(endpoint_for(world.owner, url))  # registered while allowed
    private_allowed.WEBHOOKS_ALLOW_PRIVATE_URLS = False

    result = delivery.attempt_delivery(sent.pk)

    assert result is not None
    assert (result.succeeded, result.retry_in) == (False, 10)
    attempt = sent.attempts.get()
    assert "private or reserved" in attempt.error
    assert attempt.status_code is None


def test_dns_that_turns_private_after_registration_is_refused_at_delivery(
    world: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = False
    answers = {"hooks.example.test": "93.184.216.34"}

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    guard.check_url("http://hooks.example.test/in")  # registration passes
    sent = one_delivery(endpoint_for(world.owner, "http://hooks.example.test/in"))
    answers["hooks.example.test"] = "127.0.0.1"  # rebinding

    result = delivery.attempt_delivery(sent.pk)

    assert result is not None
    assert not result.succeeded
    assert "private or reserved address (127.0.0.1)" in sent.attempts.get().error


def test_the_send_connects_to_the_checked_address_and_keeps_the_host_name(
    world: Any, private_allowed: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = socket.getaddrinfo
    lookups: list[str] = []

    def resolve(host: str, port: int, *args: Any, **kwargs: Any) -> Any:
        lookups.append(host)
        if host == "hooks.example.test":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", port))]
        return real(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    with receiver([200]) as server:
        port = server.url.split(":")[2].split("/")[0]
        sent = one_delivery(endpoint_for(world.owner, f"http://hooks.example.test:{port}/in"))
        result = delivery.attempt_delivery(sent.pk)

    assert result is not None
    assert result.succeeded
    assert server.requests[0].headers["Host"] == f"hooks.example.test:{port}"
    assert lookups.count("hooks.example.test") == 1, (
        "resolved once, by the check; the connection used its answer"
    )


# Hot path ---------------------------------------------------------------------


def test_an_owner_without_endpoints_costs_one_query_then_none(
    world: Any, django_assert_num_queries: Any
) -> None:
    with django_assert_num_queries(1):
        emit._emit(world.outsider.pk, 1, EventType.ORDER_FILLED, {"trade_id": "t1"})
    with django_assert_num_queries(0):
        emit._emit(world.outsider.pk, 1, EventType.ORDER_FILLED, {"trade_id": "t2"})
    assert not WebhookDelivery.objects.exists()


def test_adding_an_endpoint_clears_the_cached_answer(world: Any) -> None:
    assert not emit.owner_has_endpoints(world.owner.pk)
    endpoint_for(world.owner, "https://93.184.216.34/")
    assert emit.owner_has_endpoints(world.owner.pk)
