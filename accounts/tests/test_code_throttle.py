"""Wrong second-factor codes: three are free, then each costs a wait doubling from 5 s; a right
code after a wrong one is accepted; waits are worded as people say them."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework import exceptions

from accounts import twofactor
from accounts.api.errors import render_api_exception
from accounts.models import User
from accounts.tests.helpers import session_user_id, sign_in, totp_code
from config.wording import wait_phrase

pytestmark = pytest.mark.django_db

TwoFactorUser = tuple[User, TOTPDevice, list[str]]


class Clock:
    """The throttle's clock, moved by hand."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def time(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(twofactor, "time", fake)
    return fake


def wrong(device: TOTPDevice) -> str:
    return f"{(int(totp_code(device)) + 500_000) % 1_000_000:06d}"


def second_step(client: Client, code: str) -> str:
    return client.post("/accounts/2fa/authenticate/", {"code": code}).content.decode()


def test_enrolment_accepts_the_right_code_just_after_a_wrong_one(client: Client, world) -> None:
    client.force_login(world.owner)
    client.get("/account/security/2fa/setup/")
    device = TOTPDevice.objects.get(user=world.owner)

    refused = client.post("/account/security/2fa/setup/", {"code": wrong(device)})
    accepted = client.post("/account/security/2fa/setup/", {"code": totp_code(device)})

    assert refused.status_code == 400
    assert "Try again in" not in refused.content.decode()
    assert accepted.status_code == 200
    assert "Save your backup codes" in accepted.content.decode()
    assert twofactor.has_two_factor(world.owner)


def test_sign_in_accepts_the_right_code_just_after_a_wrong_one(
    client: Client, two_factor_user: TwoFactorUser
) -> None:
    user, device, _ = two_factor_user
    sign_in(client, user.email)

    second_step(client, wrong(device))
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(device)})

    assert response.status_code == 302
    assert session_user_id(client) == str(user.pk)


def test_three_wrong_codes_are_free_then_waits_double_from_five_seconds(
    client: Client, two_factor_user: TwoFactorUser, clock: Clock
) -> None:
    user, device, _ = two_factor_user
    sign_in(client, user.email)

    first, second, third = (second_step(client, wrong(device)) for _ in range(3))
    locked_out = second_step(client, totp_code(device))
    clock.now += 4.2
    last_second = second_step(client, totp_code(device))
    clock.now += 1
    fourth = second_step(client, wrong(device))
    clock.now += 10
    right = client.post("/accounts/2fa/authenticate/", {"code": totp_code(device)})

    assert "Try again in" not in first + second
    assert "Too many wrong codes. Try again in 5 seconds." in third
    assert "Too many wrong codes. Try again in 5 seconds." in locked_out
    assert "Too many wrong codes. Try again in 1 second." in last_second
    assert "Too many wrong codes. Try again in 10 seconds." in fourth
    assert right.status_code == 302
    assert session_user_id(client) == str(user.pk)


def test_django_otps_own_throttle_does_not_count_as_well(two_factor_user: TwoFactorUser) -> None:
    user, device, _ = two_factor_user
    for _ in range(2):
        twofactor.check_second_factor(user, wrong(device))
        twofactor.check_second_factor(user, "not-a-backup-code")

    device.refresh_from_db()
    assert settings.OTP_TOTP_THROTTLE_FACTOR == 0
    assert settings.OTP_STATIC_THROTTLE_FACTOR == 0
    assert device.throttling_failure_count == 2  # counted, but it never locks the device
    assert device.verify_is_allowed() == (True, None)


@pytest.mark.parametrize(
    ("seconds", "phrase"),
    [(0.2, "1 second"), (1, "1 second"), (5, "5 seconds"), (59.5, "1 minute"), (61, "2 minutes")],
)
def test_waits_are_worded_as_people_say_them(seconds: float, phrase: str) -> None:
    assert wait_phrase(seconds) == phrase


@pytest.mark.parametrize(("wait", "words"), [(1, "Try again in 1 second."), (5, "Try again in 5 seconds.")])
def test_the_api_words_its_waits_too(wait: int, words: str) -> None:
    response = render_api_exception(exceptions.Throttled(wait=wait))

    assert response is not None
    assert response.data["error"]["message"] == f"Too many requests. {words}"
    assert response["Retry-After"] == str(wait)
