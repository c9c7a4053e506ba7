"""Personal API tokens: issuing, hashing, scopes, expiry, revocation, last use, audit, the page,
the command; and the API's shared rules: 401/403/429 shapes, session with CSRF, idempotency."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import tokens
from accounts.models import ApiToken, AuditEvent, IdempotencyKey
from accounts.tests.api import bearer, error_of
from accounts.tests.factories import PASSWORD
from billing.tests.helpers import end_trial
from bots.models import Bot, BotEvent
from bots.tests.conftest import paper_account_for
from exchanges.paper import market

pytestmark = pytest.mark.django_db
BOT = {
    "symbol": "BTCUSDT",
    "lower_price": "45000",
    "upper_price": "65000",
    "grid_count": 5,
    "investment": "1000",
    "name": "Idempotent",
}


def _call(plaintext: str, path: str = "/api/v1/bots/"):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {plaintext}")
    return client.get(path)


def test_only_a_hash_is_stored_and_the_token_works(world) -> None:
    issued = tokens.do_create_token(world.owner, "script", ["trade"])
    row = ApiToken.objects.get()
    assert issued.plaintext.startswith(row.prefix)
    assert row.prefix.startswith("gw_")
    assert len(row.prefix) == 11
    assert issued.plaintext not in str(ApiToken.objects.values().get())
    assert row.token_hash == tokens.hash_token(issued.plaintext)
    assert row.scopes == ["read", "trade"]  # trade implies read
    assert _call(issued.plaintext).status_code == 200
    event = AuditEvent.objects.get(action="api_token_created")
    assert event.actor == world.owner
    assert event.details["prefix"] == row.prefix
    assert issued.plaintext not in str(event.details)


@pytest.mark.parametrize(
    ("header", "code"),
    [
        (None, "not_authenticated"),
        ("Bearer gw_nope_nope", "authentication_failed"),
        ("Bearer", "authentication_failed"),
        ("Bearer a b", "authentication_failed"),
    ],
)
def test_unauthenticated_is_401_with_a_challenge(db, header, code) -> None:
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get("/api/v1/bots/")
    assert response.status_code == 401
    assert error_of(response)["code"] == code
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoked_and_expired_tokens_are_refused(world) -> None:
    revoked = tokens.do_create_token(world.owner, "old", ["read"])
    assert tokens.do_revoke_token(revoked.token)
    assert not tokens.do_revoke_token(revoked.token)  # once
    assert _call(revoked.plaintext).status_code == 401
    assert AuditEvent.objects.filter(action="api_token_revoked").count() == 1

    expiring = tokens.do_create_token(
        world.owner, "soon", ["read"], expires_at=timezone.now() + timedelta(hours=1)
    )
    assert _call(expiring.plaintext).status_code == 200
    ApiToken.objects.filter(pk=expiring.token.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _call(expiring.plaintext).status_code == 401


def test_last_use_is_recorded_at_most_once_a_minute(world) -> None:
    issued = tokens.do_create_token(world.owner, "script", ["read"])
    assert issued.token.last_used_at is None
    _call(issued.plaintext)
    first = ApiToken.objects.get().last_used_at
    assert first is not None
    _call(issued.plaintext)
    assert ApiToken.objects.get().last_used_at == first
    ApiToken.objects.update(last_used_at=first - timedelta(minutes=2))
    _call(issued.plaintext)
    latest = ApiToken.objects.get().last_used_at
    assert latest is not None
    assert latest > first


@pytest.mark.parametrize("scopes", [[], ["admin"], ["read", "write"]])
def test_bad_scopes_are_refused(world, scopes) -> None:
    with pytest.raises(tokens.TokenError):
        tokens.do_create_token(world.owner, "x", scopes)
    assert not ApiToken.objects.exists()


def test_the_command_prints_a_working_token(world) -> None:
    out = StringIO()
    call_command(
        "create_api_token", world.owner.email, "--scopes", "read,trade", "--name", "bot runner", stdout=out
    )
    plaintext = out.getvalue().strip()
    token = ApiToken.objects.get(name="bot runner")
    assert token.owner == world.owner
    assert token.scopes == ["read", "trade"]
    assert _call(plaintext).status_code == 200
    with pytest.raises(CommandError, match="No user"):
        call_command("create_api_token", "nobody@example.com", "--scopes", "read", stdout=StringIO())
    with pytest.raises(CommandError, match="Unknown scope"):
        call_command("create_api_token", world.owner.email, "--scopes", "root", stdout=StringIO())


def test_the_page_creates_shows_once_lists_and_revokes(world) -> None:
    client = Client()
    client.login(email=world.owner.email, password=PASSWORD)
    response = client.post(
        "/account/api-tokens/", {"name": "cron job", "scopes": "read,trade", "expires": "30"}
    )
    assert response.status_code == 201
    token = ApiToken.objects.get(owner=world.owner)
    plaintext = response.context["issued"]
    assert plaintext.startswith(token.prefix)
    assert plaintext in response.content.decode()
    assert response["Cache-Control"] == "no-store"
    assert token.expires_at is not None
    assert token.scopes == ["read", "trade"]
    listing = client.get("/account/api-tokens/").content.decode()
    assert token.prefix in listing
    assert plaintext not in listing
    assert "cron job" in listing
    # Another trader cannot revoke it.
    other = Client()
    other.login(email=world.outsider.email, password=PASSWORD)
    assert other.post(f"/account/api-tokens/{token.pk}/revoke/").status_code == 404
    assert client.post(f"/account/api-tokens/{token.pk}/revoke/").status_code == 302
    token.refresh_from_db()
    assert token.revoked_at is not None
    assert _call(plaintext).status_code == 401


def test_the_page_explains_bad_input(world) -> None:
    client = Client()
    client.login(email=world.owner.email, password=PASSWORD)
    response = client.post("/account/api-tokens/", {"name": "", "scopes": "root", "expires": "30"})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_session_auth_works_with_csrf(world) -> None:
    market.set_price("BTCUSDT", Decimal("54000"))
    account = paper_account_for(world.owner)
    client = Client(enforce_csrf_checks=True)
    client.login(email=world.owner.email, password=PASSWORD)
    assert client.get("/api/v1/bots/").status_code == 200
    body = {**BOT, "account": account.pk}
    response = client.post("/api/v1/bots/", body, content_type="application/json")
    assert response.status_code == 403
    assert "CSRF" in error_of(response)["message"]
    client.get("/account/api-tokens/")
    csrf = client.cookies["csrftoken"].value
    response = client.post("/api/v1/bots/", body, content_type="application/json", HTTP_X_CSRFTOKEN=csrf)
    assert response.status_code == 201
    assert Bot.objects.filter(owner=world.owner).count() == 1


def test_throttling_is_per_token_with_retry_after(world) -> None:
    end_trial(world.owner)  # the Free plan: 60 requests a minute per token
    first = bearer(world.owner, "read")
    second = bearer(world.owner, "read")
    for _ in range(60):
        assert first.get("/api/v1/bots/").status_code == 200
    response = first.get("/api/v1/bots/")
    assert response.status_code == 429
    assert error_of(response)["code"] == "throttled"
    assert 1 <= int(response["Retry-After"]) <= 60
    assert second.get("/api/v1/bots/").status_code == 200  # its own budget


def test_idempotency_key_returns_the_first_result_and_runs_once(world) -> None:
    market.set_price("BTCUSDT", Decimal("54000"))
    account = paper_account_for(world.owner)
    client = bearer(world.owner)
    body = {**BOT, "account": account.pk}
    first = client.post("/api/v1/bots/", body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    again = client.post("/api/v1/bots/", body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Bot.objects.count() == 1
    bot_id = first.json()["id"]

    starts = [
        client.post(f"/api/v1/bots/{bot_id}/start/", HTTP_IDEMPOTENCY_KEY="start-1").status_code
        for _ in range(3)
    ]
    assert starts == [200, 200, 200]
    assert BotEvent.objects.filter(bot_id=bot_id, message="Starting.").count() == 1
    assert Bot.objects.get(pk=bot_id).run == 1

    changed = client.post(
        "/api/v1/bots/", {**body, "name": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="create-1"
    )
    assert changed.status_code == 422
    assert error_of(changed)["code"] == "idempotency_key_reused"
    assert Bot.objects.count() == 1


def test_a_key_still_running_is_409_and_keys_are_per_user(world) -> None:
    market.set_price("BTCUSDT", Decimal("54000"))
    account = paper_account_for(world.owner)
    client = bearer(world.owner)
    body = {**BOT, "account": account.pk}
    IdempotencyKey.objects.create(  # a first request with this key is still running
        owner=world.owner,
        key="busy",
        fingerprint=_fingerprint(body),
        expires_at=timezone.now() + timedelta(hours=1),
    )
    response = client.post("/api/v1/bots/", body, format="json", HTTP_IDEMPOTENCY_KEY="busy")
    assert response.status_code == 409
    assert error_of(response)["code"] == "idempotency_key_in_use"
    assert not Bot.objects.exists()
    # The same key from another trader is theirs alone.
    other_account = paper_account_for(world.outsider)
    other = bearer(world.outsider)
    response = other.post(
        "/api/v1/bots/", {**body, "account": other_account.pk}, format="json", HTTP_IDEMPOTENCY_KEY="busy"
    )
    assert response.status_code == 201


def test_an_expired_key_runs_again(world) -> None:
    market.set_price("BTCUSDT", Decimal("54000"))
    account = paper_account_for(world.owner)
    client = bearer(world.owner)
    body = {**BOT, "account": account.pk}
    assert client.post("/api/v1/bots/", body, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    IdempotencyKey.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert client.post("/api/v1/bots/", body, format="json", HTTP_IDEMPOTENCY_KEY="k").status_code == 201
    assert Bot.objects.count() == 2


def _fingerprint(body) -> str:
    """What the server computes for this request (method, path, body)."""
    import hashlib
    import json

    text = f"POST /api/v1/bots/\n{json.dumps(body, sort_keys=True, default=str)}"
    return hashlib.sha256(text.encode()).hexdigest()


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_one_key_create_one_bot(world) -> None:
    import threading

    from django.db import connection

    market.set_price("BTCUSDT", Decimal("54000"))
    account = paper_account_for(world.owner)
    body = {**BOT, "account": account.pk}
    clients = [bearer(world.owner) for _ in range(4)]
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def post(client: APIClient) -> None:
        barrier.wait()
        try:
            statuses.append(
                client.post("/api/v1/bots/", body, format="json", HTTP_IDEMPOTENCY_KEY="race").status_code
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=post, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert Bot.objects.count() == 1
    assert 201 in statuses
    assert set(statuses) <= {201, 409}
