"""Sessions are read from the shared cache, and still live in the database: a cache flush signs
nobody out, and a session ended anywhere is gone from both."""

from __future__ import annotations

from allauth.usersessions.models import UserSession
from django.conf import settings
from django.contrib.sessions.models import Session
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.tests.factories import make_user


def signed_in() -> Client:
    client = Client()
    client.force_login(make_user())
    assert client.get("/account/").status_code == 200  # the session is now in the cache too
    return client


def test_a_signed_in_page_reads_its_session_from_the_cache(db: None) -> None:
    client = signed_in()
    assert settings.SESSION_ENGINE == "django.contrib.sessions.backends.cached_db"

    with CaptureQueriesContext(connection) as captured:
        assert client.get("/account/").status_code == 200

    assert not [q for q in captured.captured_queries if "django_session" in q["sql"]]


def test_a_cache_flush_signs_nobody_out(db: None) -> None:
    client = signed_in()
    key = client.session.session_key

    cache.clear()

    assert client.get("/account/").status_code == 200
    assert Session.objects.filter(session_key=key).exists()


def test_a_session_ended_from_the_security_page_is_gone_from_the_cache(db: None) -> None:
    client = signed_in()
    key = client.session.session_key

    UserSession.objects.get(session_key=key).end()  # what "sign out this session" does

    response = client.get("/account/")
    assert response.status_code == 302
    assert not Session.objects.filter(session_key=key).exists()


def test_signing_out_ends_the_cached_session(db: None) -> None:
    client = signed_in()
    key = client.session.session_key

    client.post("/accounts/logout/")

    assert key is not None
    stolen = Client()
    stolen.cookies[settings.SESSION_COOKIE_NAME] = key
    assert stolen.get("/account/").status_code == 302
