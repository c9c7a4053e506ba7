"""Bad input gets a clear message on the page, never a 500, and writes nothing."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.test import Client, override_settings

from accounts.models import AuditEvent, User
from accounts.tests.factories import PASSWORD
from accounts.tests.helpers import last_confirmation_path, session_user_id, sign_in

pytestmark = pytest.mark.django_db


def sign_up(client: Client, email: str, password: str, confirm: str | None = None):
    return client.post(
        "/accounts/signup/", {"email": email, "password1": password, "password2": confirm or password}
    )


def test_duplicate_email_is_refused_plainly(client: Client, world) -> None:
    users_before = User.objects.count()
    response = sign_up(client, "OWNER@example.com", "a-very-good-passphrase-1")

    assert response.status_code == 200
    assert "already registered with this email address" in response.content.decode()
    assert User.objects.count() == users_before
    assert not AuditEvent.objects.exists()


@pytest.mark.parametrize(
    ("password", "message"),
    [
        ("short1", "too short"),
        ("password1234", "too common"),
        ("38472910573", "entirely numeric"),
    ],
)
def test_weak_password_is_refused(client: Client, password: str, message: str) -> None:
    response = sign_up(client, "weak@example.com", password)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.filter(email="weak@example.com").exists()
    assert not EmailAddress.objects.exists()


def test_mismatched_passwords_are_refused(client: Client) -> None:
    response = sign_up(client, "typo@example.com", "a-very-good-passphrase-1", "a-very-good-passphrase-2")
    assert "same password each time" in response.content.decode()
    assert not User.objects.exists()


def test_malformed_email_is_refused(client: Client) -> None:
    response = sign_up(client, "not-an-email", "a-very-good-passphrase-1")
    assert "valid email address" in response.content.decode()
    assert not User.objects.exists()


def test_unknown_verification_link_says_so(client: Client) -> None:
    for response in (
        client.get("/accounts/confirm-email/not-a-real-key/"),
        client.post("/accounts/confirm-email/not-a-real-key/"),
    ):
        assert "expired or is invalid" in response.content.decode()


def test_expired_verification_link_says_so_and_verifies_nothing(client: Client) -> None:
    sign_up(client, "late@example.com", "a-very-good-passphrase-1")
    path = last_confirmation_path()
    with override_settings(ACCOUNT_EMAIL_CONFIRMATION_EXPIRE_DAYS=-1):
        response = client.post(path)
    assert response.status_code == 404
    assert "expired or is invalid" in response.content.decode()
    assert not EmailAddress.objects.get(email="late@example.com").verified


def test_wrong_password_gets_a_message(client: Client, world) -> None:
    response = sign_in(client, world.owner.email, "wrong-password")
    assert response.status_code == 200
    assert "email address and/or password you specified are not correct" in response.content.decode()
    assert session_user_id(client) is None


def test_repeated_failures_lock_the_account_with_a_message(client: Client, world) -> None:
    for _ in range(5):
        sign_in(client, world.owner.email, "wrong-password")

    response = sign_in(client, world.owner.email, PASSWORD)

    assert "Too many failed login attempts" in response.content.decode()
    assert session_user_id(client) is None
    # Another trader is not locked out by someone else's failures.
    assert sign_in(Client(), world.teammate.email).status_code == 302


def test_bad_time_zone_is_refused_on_the_profile(client: Client, world) -> None:
    client.force_login(world.owner)
    response = client.post("/account/", {"display_name": "Ann", "time_zone": "Mars/Olympus"})
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    world.owner.refresh_from_db()
    assert world.owner.time_zone == "UTC"
