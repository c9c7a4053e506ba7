"""The whole trader journey, driven through the views, asserted on the database."""

from __future__ import annotations

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from django.test import Client
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import AuditAction, AuditEvent, User
from accounts.tests.helpers import last_confirmation_path, session_user_id, sign_in, totp_code

pytestmark = pytest.mark.django_db

EMAIL = "newtrader@example.com"
PASSWORD = "grid-trading-is-fun-2026"


def actions_for(email: str) -> list[str]:
    return list(AuditEvent.objects.filter(actor_email=email).order_by("id").values_list("action", flat=True))


def test_sign_up_verify_enrol_and_log_in_with_totp() -> None:
    client = Client()

    response = client.post(
        "/accounts/signup/", {"email": EMAIL, "password1": PASSWORD, "password2": PASSWORD}
    )
    assert response.status_code == 302
    user = User.objects.get(email=EMAIL)
    assert not EmailAddress.objects.get(user=user).verified
    assert len(mail.outbox) == 1

    confirm_path = last_confirmation_path()
    assert client.get(confirm_path).status_code == 200
    assert client.post(confirm_path).status_code == 302
    assert EmailAddress.objects.get(user=user).verified

    client.post("/accounts/logout/")
    assert session_user_id(client) is None
    assert sign_in(client, EMAIL, PASSWORD).status_code == 302
    assert session_user_id(client) == str(user.pk)

    setup = client.get("/account/security/2fa/setup/")
    assert setup.status_code == 200
    assert b"<svg" in setup.content
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    enrolled = client.post("/account/security/2fa/setup/", {"code": totp_code(device)})
    assert enrolled.status_code == 200
    device.refresh_from_db()
    assert device.confirmed
    codes = list(StaticToken.objects.filter(device__user=user).values_list("token", flat=True))
    assert len(codes) == 10
    for code in codes:
        assert code in enrolled.content.decode()

    client.post("/accounts/logout/")
    response = sign_in(client, EMAIL, PASSWORD)
    assert response.status_code == 302
    assert response["Location"] == "/accounts/2fa/authenticate/"
    assert session_user_id(client) is None, "password alone must not log in a 2FA user"

    # The enrolment code's time step is spent; the app's next code is accepted.
    response = client.post("/accounts/2fa/authenticate/", {"code": totp_code(device, steps_ahead=1)})
    assert response.status_code == 302
    assert session_user_id(client) == str(user.pk)
    assert client.get("/account/security/").context["user"].is_verified()

    assert actions_for(EMAIL) == [
        AuditAction.SIGNUP,
        AuditAction.LOGIN,
        AuditAction.EMAIL_CONFIRMED,
        AuditAction.LOGOUT,
        AuditAction.LOGIN,
        AuditAction.TWO_FACTOR_ENABLED,
        AuditAction.LOGOUT,
        AuditAction.LOGIN,
    ]
