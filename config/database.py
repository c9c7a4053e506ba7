"""How the project holds its database connections, chosen from the environment."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from django.core.exceptions import ImproperlyConfigured

POSTGRESQL = "django.db.backends.postgresql"
SQLITE = "django.db.backends.sqlite3"
# Seconds a SQLite writer waits for the lock. Short: a request that cannot write within it is
# run once more and then told the database is busy (config/busy.py), rather than hanging.
SQLITE_BUSY_TIMEOUT = 5


def sqlite_database(path: Path) -> dict[str, Any]:
    """One DATABASES entry for a SQLite file shared by threads of one process (the embedded shape)."""
    return {
        "ENGINE": SQLITE,
        "NAME": path,
        "OPTIONS": {
            # Web, worker and beat run as threads of one process: WAL and immediate
            # transactions keep them from tripping over SQLite's single writer.
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
            "transaction_mode": "IMMEDIATE",
            "timeout": SQLITE_BUSY_TIMEOUT,
        },
    }


def connection_settings(database: Mapping[str, Any], environ: Mapping[str, str]) -> dict[str, Any]:
    """CONN_MAX_AGE, CONN_HEALTH_CHECKS and OPTIONS for `database` (one DATABASES entry).

    `DB_POOL=on` gives each process a psycopg connection pool (PostgreSQL only): requests borrow
    a connection and hand it back when they end. That suits the ASGI web process, where every
    request runs on a thread of its own so a connection kept per thread (`DB_CONN_MAX_AGE`)
    leaks with the thread. Celery workers leave it off: each process keeps one connection
    between tasks (`DB_CONN_MAX_AGE`, 60 s by default).
    """
    pooled = _flag(environ.get("DB_POOL", ""), "DB_POOL")
    options = dict(database.get("OPTIONS") or {})
    if not pooled:
        return {
            "CONN_MAX_AGE": _int(environ, "DB_CONN_MAX_AGE", 60, minimum=0),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    if database.get("ENGINE") != POSTGRESQL:
        raise ImproperlyConfigured("DB_POOL needs PostgreSQL; leave it off for SQLite.")
    min_size = _int(environ, "DB_POOL_MIN_SIZE", 2, minimum=0)
    max_size = _int(environ, "DB_POOL_MAX_SIZE", 10, minimum=1)
    if min_size > max_size:
        raise ImproperlyConfigured(f"DB_POOL_MIN_SIZE ({min_size}) exceeds DB_POOL_MAX_SIZE ({max_size}).")
    options["pool"] = {
        "min_size": min_size,
        "max_size": max_size,
        # Seconds a request waits for a free connection before it fails.
        "timeout": _int(environ, "DB_POOL_TIMEOUT", 10, minimum=1),
        # Connections idle this long are closed, down to min_size.
        "max_idle": 300,
    }
    # Django refuses persistent connections with a pool: the pool is what keeps them. With
    # health checks on, Django has the pool test each connection as it is lent, so one the
    # server dropped (a restart, a failover) is replaced rather than handed to a request.
    return {"CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": True, "OPTIONS": options}


def _flag(value: str, name: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("", "0", "off", "false", "no"):
        return False
    if lowered in ("1", "on", "true", "yes"):
        return True
    raise ImproperlyConfigured(f"{name} must be on or off, not {value!r}.")


def _int(environ: Mapping[str, str], name: str, default: int, *, minimum: int) -> int:
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a whole number, not {raw!r}.") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be at least {minimum}, not {value}.")
    return value
