"""One attempt at sending one delivery: claim it, send it signed, record what happened.

A delivery is claimed with a conditional UPDATE (pending, due, no live lease), so two
workers never send it at once; the lease lets the sweep retry one whose worker died.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from bots.webhooks import guard, signing
from bots.webhooks.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, signing_secrets

# Seconds to wait after failed attempt 1, 2, 3, 4; the fifth failure is final.
BACKOFF = (10, 60, 300, 1800)
MAX_ATTEMPTS = len(BACKOFF) + 1
# Longer than the worst send (connect + write + read timeouts, a capped body).
LEASE = timedelta(seconds=90)
RESPONSE_BODY_LIMIT = 1000
USER_AGENT = "Gridwise-Webhooks/1.0"
WORKER_LOST = "No answer recorded: the worker sending it stopped."


@dataclass(frozen=True)
class Outcome:
    status_code: int | None = None
    error: str = ""
    response_body: str = ""
    duration_ms: int = 0

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


@dataclass(frozen=True)
class AttemptResult:
    number: int
    succeeded: bool
    retry_in: int | None  # seconds until the next attempt; None once the delivery is settled


def backoff_after(attempt_number: int) -> int:
    return BACKOFF[min(attempt_number, len(BACKOFF)) - 1]


def attempt_delivery(delivery_id: int, now: datetime | None = None) -> AttemptResult | None:
    """Send `delivery_id` once if it is due and nobody else is sending it; None if not claimed."""
    claimed = _claim(delivery_id, now or timezone.now())
    if claimed is None:
        return None
    delivery, attempt = claimed
    if not delivery.endpoint.subscribes_to(delivery.event_type):
        return _cancel(delivery, attempt)
    outcome = send(delivery, attempt.number)
    return _record(delivery, attempt, outcome, now or timezone.now())


def _claim(delivery_id: int, now: datetime) -> tuple[WebhookDelivery, WebhookAttempt] | None:
    with transaction.atomic():
        claimed = (
            WebhookDelivery.objects.filter(
                pk=delivery_id,
                status=DeliveryStatus.PENDING,
                next_attempt_at__lte=now,
                attempt_count__lt=F("max_attempts"),
            )
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .update(lease_until=now + LEASE, attempt_count=F("attempt_count") + 1)
        )
        if not claimed:
            return None
        delivery = WebhookDelivery.objects.select_related("endpoint").get(pk=delivery_id)
        delivery.attempts.filter(duration_ms__isnull=True, error="").update(error=WORKER_LOST)
        attempt = WebhookAttempt.objects.create(
            delivery=delivery, number=delivery.attempt_count, started_at=timezone.now()
        )
    return delivery, attempt


def send(delivery: WebhookDelivery, attempt_number: int) -> Outcome:
    """POST the delivery's body, signed, to the address its URL was just checked to have."""
    started = time.monotonic()
    try:
        target = guard.check_url(delivery.endpoint.url)
    except guard.UnsafeURL as exc:
        return Outcome(error=str(exc)[:300])
    body = delivery.body.encode()
    url = httpx.URL(target.url)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "Host": url.netloc.decode("ascii"),
        signing.HEADER: signing.signature_header(signing_secrets(delivery.endpoint), body, int(time.time())),
        "Gridwise-Event-Id": delivery.event_id,
        "Gridwise-Event-Type": delivery.event_type,
        "Gridwise-Delivery-Attempt": str(attempt_number),
    }
    # Connect to the checked address; the name still goes in Host and in TLS (SNI and the
    # certificate check), so DNS cannot swap the address after the check.
    extensions = {"sni_hostname": target.host} if url.scheme == "https" else {}
    timeout = settings.WEBHOOK_TIMEOUT
    try:
        with (
            httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
            client.stream(
                "POST",
                url.copy_with(host=target.address),
                content=body,
                headers=headers,
                extensions=extensions,
            ) as response,
        ):
            text = _read_capped(response, started + 2 * timeout)
            return Outcome(response.status_code, "", text, _elapsed_ms(started))
    except httpx.TimeoutException as exc:
        return Outcome(error=_timeout_message(exc, timeout), duration_ms=_elapsed_ms(started))
    except httpx.HTTPError as exc:
        return Outcome(
            error=f"Could not send: {exc}"[:300] or "Could not send.", duration_ms=_elapsed_ms(started)
        )


def _read_capped(response: httpx.Response, deadline: float) -> str:
    received = b""
    for chunk in response.iter_bytes():
        received += chunk
        if len(received) >= RESPONSE_BODY_LIMIT or time.monotonic() > deadline:
            break
    return received[:RESPONSE_BODY_LIMIT].decode("utf-8", errors="replace")


def _timeout_message(exc: httpx.TimeoutException, timeout: float) -> str:
    if isinstance(exc, httpx.ConnectTimeout):
        return f"Timed out connecting after {timeout:g} s."
    return f"Timed out: no answer within {timeout:g} s."


def _elapsed_ms(started: float) -> int:
    return round((time.monotonic() - started) * 1000)


def _record(
    delivery: WebhookDelivery, attempt: WebhookAttempt, outcome: Outcome, now: datetime
) -> AttemptResult:
    final = outcome.succeeded or attempt.number >= delivery.max_attempts
    retry_in = None if final else backoff_after(attempt.number)
    if outcome.succeeded:
        status = DeliveryStatus.SUCCEEDED
    else:
        status = DeliveryStatus.FAILED if final else DeliveryStatus.PENDING
    with transaction.atomic():
        WebhookAttempt.objects.filter(pk=attempt.pk).update(
            duration_ms=outcome.duration_ms,
            status_code=outcome.status_code,
            error=outcome.error or ("" if outcome.succeeded else f"HTTP {outcome.status_code}"),
            response_body=outcome.response_body,
            succeeded=outcome.succeeded,
        )
        WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
            status=status,
            lease_until=None,
            next_attempt_at=None if final else now + timedelta(seconds=retry_in or 0),
            completed_at=now if final else None,
        )
    return AttemptResult(number=attempt.number, succeeded=outcome.succeeded, retry_in=retry_in)


def _cancel(delivery: WebhookDelivery, attempt: WebhookAttempt) -> AttemptResult:
    with transaction.atomic():
        WebhookAttempt.objects.filter(pk=attempt.pk).update(
            duration_ms=0, error="Not sent: the endpoint was disabled or no longer takes this event."
        )
        WebhookDelivery.objects.filter(pk=delivery.pk).update(
            status=DeliveryStatus.CANCELLED,
            lease_until=None,
            next_attempt_at=None,
            completed_at=timezone.now(),
        )
    return AttemptResult(number=attempt.number, succeeded=False, retry_in=None)
