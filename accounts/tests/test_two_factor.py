from __future__ import annotations

import pytest
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import twofactor
from accounts.models import AuditAction, AuditEvent, User
from accounts.tests.helpers import session_user_id, sign_in, totp_code

pytestmark = pytest.mark.django_db

TwoFactorUser = tuple[User, TOTPDevice, list[str]]


def second_step(client: Client, code: str):
    return client.post("/accounts/2fa/authenticate/", {"code": code})


def test_wrong_totp_code_is_refused_with_a_message(client: Client, two_factor_user: TwoFactorUser) -> None:
    user, device, _ = two_factor_user
    sign_in(client, user.email)
    wrong = f"{(int(totp_code(device)) + 1) % 1_000_000:06d}"

    response = second_step(client, wrong)

    assert response.status_code == 400
    assert "That code is wrong" in response.content.decode()
    assert session_user_id(client) is None
    failed = AuditEvent.objects.get(action=AuditAction.LOGIN_FAILED)
    assert failed.details == {"email": user.email, "reason": "bad_second_factor"}


def test_replayed_totp_code_is_refused(two_factor_user: TwoFactorUser) -> None:
    user, device, _ = two_factor_user
    code = totp_code(device)
    first, second = Client(), Client()

    sign_in(first, user.email)
    assert second_step(first, code).status_code == 302
    sign_in(second, user.email)
    response = second_step(second, code)

    assert response.status_code == 400
    assert session_user_id(second) is None
    assert "already used" in response.content.decode()


def test_each_backup_code_works_exactly_once(two_factor_user: TwoFactorUser) -> None:
    user, _, codes = two_factor_user
    first, second = Client(), Client()

    sign_in(first, user.email)
    assert second_step(first, codes[0].upper()).status_code == 302, "codes are case-insensitive"
    assert session_user_id(first) == str(user.pk)
    assert StaticToken.objects.filter(device__user=user).count() == 9

    sign_in(second, user.email)
    assert second_step(second, codes[1]).status_code == 302, "other codes still work"

    third = Client()
    sign_in(third, user.email)
    assert second_step(third, codes[0]).status_code == 400
    assert session_user_id(third) is None
    assert StaticToken.objects.filter(device__user=user).count() == 8


def test_wrong_codes_are_throttled(client: Client, two_factor_user: TwoFactorUser) -> None:
    user, device, _ = two_factor_user
    sign_in(client, user.email)
    for _ in range(3):
        second_step(client, "000000" if totp_code(device) != "000000" else "111111")

    response = second_step(client, totp_code(device, steps_ahead=1))

    assert response.status_code == 400
    assert "Too many wrong codes" in response.content.decode()
    assert session_user_id(client) is None


def test_cancelling_the_second_step_leaves_the_user_logged_out(
    client: Client, two_factor_user: TwoFactorUser
) -> None:
    user, _, _ = two_factor_user
    sign_in(client, user.email)
    response = client.post("/accounts/2fa/authenticate/", {"cancel": "1"})
    assert response.status_code == 302
    assert session_user_id(client) is None
    assert client.get("/accounts/2fa/authenticate/")["Location"] == "/accounts/login/"


def test_second_step_cannot_be_reached_without_a_password(client: Client) -> None:
    response = client.get("/accounts/2fa/authenticate/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/login/"


def test_disabling_two_factor_needs_a_current_code(client: Client, two_factor_user: TwoFactorUser) -> None:
    user, device, _ = two_factor_user
    client.force_login(user)

    refused = client.post("/account/security/2fa/disable/", {"code": "12345678"})
    assert refused.status_code == 400
    assert "not valid" in refused.content.decode()
    assert twofactor.has_two_factor(user)

    accepted = client.post("/account/security/2fa/disable/", {"code": totp_code(device)})
    assert accepted.status_code == 302
    assert not twofactor.has_two_factor(user)
    assert not StaticToken.objects.filter(device__user=user).exists()
    assert AuditEvent.objects.filter(actor=user, action=AuditAction.TWO_FACTOR_DISABLED).count() == 1
    # Without 2FA, a password alone logs in again.
    client.post("/accounts/logout/")
    sign_in(client, user.email)
    assert session_user_id(client) == str(user.pk)


def test_regenerating_backup_codes_replaces_the_old_ones(
    client: Client, two_factor_user: TwoFactorUser
) -> None:
    user, device, old_codes = two_factor_user
    client.force_login(user)

    response = client.post("/account/security/2fa/backup-codes/", {"code": totp_code(device)})

    assert response.status_code == 200
    new_codes = set(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(new_codes) == 10
    assert not new_codes & set(old_codes)
    assert AuditEvent.objects.filter(actor=user, action=AuditAction.BACKUP_CODES_REGENERATED).exists()


def test_enrolment_with_a_wrong_code_leaves_two_factor_off(client: Client, world) -> None:
    client.force_login(world.owner)
    client.get("/account/security/2fa/setup/")
    device = TOTPDevice.objects.get(user=world.owner)

    response = client.post("/account/security/2fa/setup/", {"code": "abc"})

    assert response.status_code == 400
    assert "6-digit code" in response.content.decode()
    device.refresh_from_db()
    assert not device.confirmed
    assert not StaticToken.objects.filter(device__user=world.owner).exists()
    assert not twofactor.has_two_factor(world.owner)


def test_reloading_setup_keeps_the_same_secret(client: Client, world) -> None:
    client.force_login(world.owner)
    first = client.get("/account/security/2fa/setup/").context["secret"]
    second = client.get("/account/security/2fa/setup/").context["secret"]
    assert first == second
    assert TOTPDevice.objects.filter(user=world.owner).count() == 1
