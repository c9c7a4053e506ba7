"""The security page's "last seen" per session, recorded without a write on every page view."""

from __future__ import annotations

from allauth.usersessions.models import UserSession
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import make_user

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0"


def _seen(client: Client) -> UserSession:
    return UserSession.objects.get(session_key=client.session.session_key)


def test_a_page_view_records_the_session_then_not_again_within_the_minute(db: None) -> None:
    client = Client(headers={"user-agent": BROWSER})
    client.force_login(make_user())
    assert client.get("/account/").status_code == 200
    first = _seen(client)
    assert first.user_agent == BROWSER

    with CaptureQueriesContext(connection) as captured:
        assert client.get("/account/").status_code == 200

    assert _seen(client).last_seen_at == first.last_seen_at
    assert not [q for q in captured.captured_queries if "usersessions_usersession" in q["sql"]]


def test_once_the_minute_is_over_the_next_view_is_recorded(db: None) -> None:
    client = Client(headers={"user-agent": BROWSER})
    client.force_login(make_user())
    client.get("/account/")
    before = _seen(client).last_seen_at

    cache.clear()  # as the minute running out does
    client.get("/account/")

    assert _seen(client).last_seen_at > before


def test_a_new_browser_or_address_on_the_session_is_recorded_at_once(db: None) -> None:
    client = Client(headers={"user-agent": BROWSER})
    client.force_login(make_user())
    client.get("/account/")

    client.get("/account/", headers={"user-agent": "curl/8.9"})
    assert _seen(client).user_agent == "curl/8.9"

    client.get("/account/", headers={"user-agent": "curl/8.9"}, REMOTE_ADDR="198.51.100.7")
    assert _seen(client).ip == "198.51.100.7"


def test_signed_out_visitors_record_nothing(db: None) -> None:
    assert Client().get("/").status_code == 200
    assert not UserSession.objects.exists()
