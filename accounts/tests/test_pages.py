from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.contrib.messages.storage.fallback import FallbackStorage
from django.contrib.sessions.backends.db import SessionStore
from django.http import HttpRequest, HttpResponse
from django.test import Client, RequestFactory

from accounts.tests.factories import make_user
from accounts.verification import UNVERIFIED_MESSAGE, has_verified_email, verified_email_required

pytestmark = pytest.mark.django_db


@verified_email_required
def connect_keys(request: HttpRequest) -> HttpResponse:
    return HttpResponse("keys form")


def gated_request(user) -> HttpRequest:
    request = RequestFactory().get("/exchange-accounts/new/")
    request.user = user
    request.session = SessionStore()
    request._messages = FallbackStorage(request)  # type: ignore[attr-defined]
    return request


def test_verified_email_gate_sends_unverified_users_to_their_email_page() -> None:
    unverified = make_user(email="fresh@example.com", verified=False)
    assert not has_verified_email(unverified)

    response = connect_keys(gated_request(unverified))

    assert response.status_code == 302
    assert response["Location"] == "/accounts/email/"
    request = gated_request(unverified)
    connect_keys(request)
    assert [str(m) for m in request._messages] == [UNVERIFIED_MESSAGE]  # type: ignore[attr-defined]


def test_verified_email_gate_lets_verified_users_through(world) -> None:
    response = connect_keys(gated_request(world.owner))
    assert response.status_code == 200
    assert response.content == b"keys form"


def test_verified_email_gate_asks_anonymous_users_to_log_in() -> None:
    response = connect_keys(gated_request(AnonymousUser()))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", ["/account/", "/account/security/", "/account/security/2fa/setup/"])
def test_account_pages_require_login(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "path", ["/", "/account/", "/account/security/", "/accounts/email/", "/accounts/password/change/"]
)
def test_account_pages_render_for_their_owner(client: Client, world, path: str) -> None:
    client.force_login(world.owner)
    response = client.get(path)
    assert response.status_code == 200
    assert world.owner.email in response.content.decode()


@pytest.mark.parametrize("path", ["/", "/accounts/login/", "/accounts/signup/", "/accounts/password/reset/"])
def test_public_pages_render(client: Client, path: str) -> None:
    response = client.get(path)
    assert response.status_code == 200
    assert b'hx-headers=\'{"X-CSRFToken"' in response.content
    assert b"vendor/htmx/htmx.min.js" in response.content


def test_profile_saves_and_times_use_the_users_zone(client: Client, world) -> None:
    client.force_login(world.owner)
    response = client.post("/account/", {"display_name": "Ann", "time_zone": "Asia/Tokyo"})
    assert response.status_code == 302
    world.owner.refresh_from_db()
    assert (world.owner.display_name, world.owner.time_zone) == ("Ann", "Asia/Tokyo")
    assert "+09:00" in client.get("/account/security/").content.decode()


def test_profile_saves_over_htmx_with_just_the_fragment(client: Client, world) -> None:
    client.force_login(world.owner)
    response = client.post("/account/", {"display_name": "Bo", "time_zone": "UTC"}, HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert response.status_code == 200
    assert body.lstrip().startswith('<form id="profile-form"')
    assert "Profile saved." in body
    world.owner.refresh_from_db()
    assert world.owner.display_name == "Bo"


def test_security_page_lists_the_users_own_sessions_only(world) -> None:
    mine, theirs = Client(HTTP_USER_AGENT="OwnerBrowser/1"), Client(HTTP_USER_AGENT="OutsiderBrowser/1")
    mine.post("/accounts/login/", {"login": world.owner.email, "password": "correct-horse-battery-42"})
    theirs.post("/accounts/login/", {"login": world.outsider.email, "password": "correct-horse-battery-42"})

    body = mine.get("/account/security/").content.decode()

    assert "OwnerBrowser/1" in body
    assert "OutsiderBrowser/1" not in body
