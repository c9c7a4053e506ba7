"""A sign-in from a browser the trader has not used before is a critical notification."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from accounts.tests.helpers import sign_in
from notifications import record
from notifications.events import Channel, Kind
from notifications.models import Notification

LAPTOP = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"
PHONE = "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) Safari/604.1"


@pytest.fixture(autouse=True)
def _no_celery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record, "enqueue", lambda delivery_ids: None)


def sign_in_with(user: Any, user_agent: str) -> None:
    response = sign_in(Client(HTTP_USER_AGENT=user_agent), user.email)
    assert response.status_code == 302


def test_only_a_sign_in_from_an_unseen_browser_is_announced(
    world: Any, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        sign_in_with(world.owner, LAPTOP)  # the first sign-in ever
        sign_in_with(world.owner, LAPTOP)
    assert not Notification.objects.exists()

    with django_capture_on_commit_callbacks(execute=True):
        sign_in_with(world.owner, PHONE)
    (notification,) = Notification.objects.filter(user=world.owner)
    assert notification.kind == Kind.NEW_DEVICE_LOGIN
    assert notification.severity == "critical"
    assert PHONE in notification.body
    assert notification.link == "/account/security/"
    assert {d.channel for d in notification.deliveries.all()} == {Channel.IN_APP, Channel.EMAIL}

    with django_capture_on_commit_callbacks(execute=True):
        sign_in_with(world.owner, PHONE)  # known now
        sign_in_with(world.outsider, LAPTOP)
        sign_in_with(world.outsider, PHONE)
    assert Notification.objects.filter(user=world.owner).count() == 1
    assert Notification.objects.filter(user=world.outsider).count() == 1
