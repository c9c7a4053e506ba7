from __future__ import annotations

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import twofactor
from accounts.models import User
from accounts.tests.factories import make_user


@pytest.fixture
def two_factor_user(db: None) -> tuple[User, TOTPDevice, list[str]]:
    """A trader with a confirmed authenticator and a fresh set of backup codes."""
    user = make_user(email="secure@example.com")
    device = twofactor.pending_totp_device(user)
    codes = twofactor.enable_two_factor(device)
    return user, device, codes


@pytest.fixture
def client() -> Client:
    return Client(HTTP_USER_AGENT="pytest-browser/1.0")
