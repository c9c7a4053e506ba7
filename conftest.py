"""Suite-wide fixtures. The suite runs against real PostgreSQL and Redis."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import psycopg
import pytest
import redis

from accounts.models import User
from accounts.tests.factories import make_user

ARTIFACTS = Path(__file__).resolve().parent / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
# Without these, chromium keeps dialling home on this machine's closed network.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
POSTGRES_HINT = "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start"
REDIS_HINT = (
    'redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no '
    "--dir /var/lib/redis --logfile /var/log/redis/ci.log"
)


def _postgres_error(database_url: str) -> str | None:
    parts = urlsplit(database_url)
    maintenance = urlunsplit(parts._replace(path="/postgres"))
    try:
        psycopg.connect(maintenance, connect_timeout=3).close()
    except psycopg.Error as exc:
        where = f"{parts.hostname}:{parts.port}"
        return f"PostgreSQL is not reachable at {where} ({exc}).\nStart it with: {POSTGRES_HINT}"
    return None


def _redis_error(redis_url: str) -> str | None:
    try:
        redis.Redis.from_url(redis_url, socket_connect_timeout=3).ping()
    except redis.RedisError as exc:
        return f"Redis is not reachable at {redis_url} ({exc}).\nStart it with: {REDIS_HINT}"
    return None


def pytest_configure(config: pytest.Config) -> None:
    problems = [
        problem
        for problem in (
            _postgres_error(os.environ["DATABASE_URL"]),
            _redis_error(os.environ["REDIS_URL"]),
            _redis_error(os.environ["CACHE_URL"]),
        )
        if problem
    ]
    if problems:
        pytest.exit("The test suite needs its real services:\n" + "\n".join(problems), returncode=3)
    from django.conf import settings

    # Hashing strength is not under test; the default costs a second per login.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup: None, django_db_blocker: Any) -> Iterator[None]:
    """pytest-django's test database, with what it cannot see ended before it is dropped:
    Django's connections are per thread, and the threads that served live servers, sockets and
    renders in this process keep theirs open until it exits, so the drop failed with "being
    accessed by other users" and left the database behind."""
    yield
    from django.db import connection

    with django_db_blocker.unblock(), connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )


@pytest.fixture(scope="session", autouse=True)
def _redis_key_space() -> Iterator[None]:
    """This run's keys (config/tests/settings.py) go with it; nobody else's are touched."""
    yield
    from django.conf import settings

    for url in {settings.REDIS_URL, settings.CACHE_URL, settings.CELERY_BROKER_URL}:
        server = redis.Redis.from_url(url)
        keys = list(server.scan_iter(match=f"{settings.REDIS_KEY_PREFIX}*", count=1000))
        for start in range(0, len(keys), 1000):
            server.delete(*keys[start : start + 1000])


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Rate limits and throttles live in the cache; each test starts clean."""
    from django.core.cache import cache

    cache.clear()


@dataclass(frozen=True)
class World:
    owner: User
    teammate: User
    outsider: User


@pytest.fixture
def world(db: None) -> World:
    """Three verified traders: the one under test, a colleague, and a stranger."""
    return World(
        owner=make_user(email="owner@example.com"),
        teammate=make_user(email="teammate@example.com"),
        outsider=make_user(email="outsider@example.com"),
    )


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's chromium driven by Playwright; never a downloaded browser."""
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install it with `apt-get install chromium` (scripts/test does).")
    # Playwright's sync API keeps an event loop on this thread; the ORM calls
    # the tests make between browser steps are still plain synchronous calls.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield _PolicyBypassingBrowser(instance)
        instance.close()


class _PolicyBypassingBrowser:
    """Playwright's browser, whose contexts bypass the Content-Security-Policy unless a test passes
    `bypass_csp=False`: Playwright runs some of its own helpers through eval, which the policy
    refuses. The policy itself is tested enforced (config/tests/test_csp.py,
    bots/tests/test_csp_browser.py)."""

    def __init__(self, browser: Any) -> None:
        self._browser = browser

    def new_context(self, **options: Any) -> Any:
        options.setdefault("bypass_csp", True)
        return self._browser.new_context(**options)

    def new_page(self, **options: Any) -> Any:
        options.setdefault("bypass_csp", True)
        return self._browser.new_page(**options)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._browser, name)


@pytest.fixture
def artifacts() -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS
