"""Database connections chosen from the environment: a pool for the web process, kept
per-process connections for workers, never a pool on SQLite."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.db.backends.postgresql.base import DatabaseWrapper

from config.database import connection_settings

POSTGRES = {"ENGINE": "django.db.backends.postgresql", "NAME": "gridwise", "OPTIONS": {"sslmode": "prefer"}}
SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": "gridwise.sqlite3"}


def test_without_a_pool_each_process_keeps_its_connection_a_minute() -> None:
    chosen = connection_settings(POSTGRES, {})
    assert chosen == {"CONN_MAX_AGE": 60, "CONN_HEALTH_CHECKS": True, "OPTIONS": {"sslmode": "prefer"}}
    assert connection_settings(POSTGRES, {"DB_CONN_MAX_AGE": "0", "DB_POOL": "off"})["CONN_MAX_AGE"] == 0


def test_db_pool_gives_postgresql_a_pool_sized_from_the_environment() -> None:
    chosen = connection_settings(
        POSTGRES,
        {"DB_POOL": "on", "DB_POOL_MAX_SIZE": "16", "DB_POOL_MIN_SIZE": "4", "DB_CONN_MAX_AGE": "60"},
    )
    assert chosen["CONN_MAX_AGE"] == 0  # Django refuses persistent connections beside a pool
    assert chosen["CONN_HEALTH_CHECKS"] is True  # the pool checks each connection it lends
    assert chosen["OPTIONS"]["sslmode"] == "prefer"
    assert chosen["OPTIONS"]["pool"] == {"min_size": 4, "max_size": 16, "timeout": 10, "max_idle": 300}
    assert connection_settings(POSTGRES, {"DB_POOL": "true"})["OPTIONS"]["pool"]["max_size"] == 10


def test_sqlite_never_gets_a_pool() -> None:
    assert "pool" not in connection_settings(SQLITE, {})["OPTIONS"]
    with pytest.raises(ImproperlyConfigured, match="DB_POOL needs PostgreSQL"):
        connection_settings(SQLITE, {"DB_POOL": "on"})


@pytest.mark.parametrize(
    ("environ", "message"),
    [
        ({"DB_POOL": "maybe"}, "DB_POOL must be on or off, not 'maybe'"),
        ({"DB_POOL": "on", "DB_POOL_MAX_SIZE": "ten"}, "DB_POOL_MAX_SIZE must be a whole number"),
        ({"DB_POOL": "on", "DB_POOL_MAX_SIZE": "0"}, "DB_POOL_MAX_SIZE must be at least 1"),
        ({"DB_POOL": "on", "DB_POOL_MIN_SIZE": "12"}, r"MIN_SIZE \(12\) exceeds DB_POOL_MAX_SIZE \(10\)"),
        ({"DB_CONN_MAX_AGE": "-1"}, "DB_CONN_MAX_AGE must be at least 0"),
    ],
)
def test_bad_values_refuse_to_start_with_a_clear_message(environ: dict[str, str], message: str) -> None:
    with pytest.raises(ImproperlyConfigured, match=message):
        connection_settings(POSTGRES, environ)


@pytest.mark.django_db
def test_the_pooled_settings_lend_and_take_back_real_postgresql_connections() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the pool is for PostgreSQL")
    settings: dict[str, Any] = {**connection.settings_dict}
    pool = {"DB_POOL": "on", "DB_POOL_MIN_SIZE": "0", "DB_POOL_MAX_SIZE": "2"}
    settings.update(connection_settings(settings, pool))
    pooled = DatabaseWrapper(settings, alias="pooled")
    try:
        for _ in range(3):  # more requests than connections: each hands its connection back
            with pooled.cursor() as cursor:
                cursor.execute("SELECT pg_backend_pid()")
                cursor.fetchone()
            pooled.close()
        stats = pooled.pool.get_stats()
        assert stats["pool_size"] <= 2
        assert stats["requests_num"] == 3
    finally:
        pooled.close_pool()
