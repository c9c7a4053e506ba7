"""The benchmarks' own database on the server named by DATABASE_URL."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit


def bench_database_url(name: str) -> str:
    """The URL of database `name` on DATABASE_URL's server, created if missing."""
    import psycopg

    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL server, e.g. postgres://postgres@127.0.0.1:5432/gridwise")
    parts = urlsplit(url)
    with psycopg.connect(urlunsplit(parts._replace(path="/postgres")), autocommit=True) as admin:
        if not admin.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            admin.execute(f'CREATE DATABASE "{name}"')
    return urlunsplit(parts._replace(path=f"/{name}"))


def throwaway_production_env(allowed_hosts: str = "localhost") -> dict[str, str]:
    """DEBUG off, as in production (DEBUG would also record every query), with values that pass
    the production checks and are thrown away with the run. No price feed: the bench moves prices."""
    import uuid

    from cryptography.fernet import Fernet

    return {
        "DEBUG": "false",
        "SECRET_KEY": uuid.uuid4().hex + uuid.uuid4().hex,
        "ALLOWED_HOSTS": allowed_hosts,
        "EMAIL_URL": "consolemail://",
        "CREDENTIALS_KEYS": Fernet.generate_key().decode(),
        "PAPER_FEED": "none",
        "LOG_LEVEL": "WARNING",
    }


def celery_worker_command(
    root: Path,
    queues: str,
    concurrency: int,
    hostname: str,
    *,
    pool: str = "prefork",
    prefetch: int = 1,
    nice: int = 0,
) -> list[str]:
    """A `celery -A config worker` command line shaped as the Procfile's (queues, processes,
    niceness), with quiet logs and none of the cluster chatter a benchmark does not need."""
    return [
        *(["nice", "-n", str(nice)] if nice else []),
        str(root / ".venv" / "bin" / "celery"),
        "-A",
        "config",
        "worker",
        "--queues",
        queues,
        "--hostname",
        hostname,
        "--pool",
        pool,
        "--concurrency",
        str(concurrency),
        "--prefetch-multiplier",
        str(prefetch),
        "--loglevel",
        "WARNING",
        "--without-mingle",
        "--without-gossip",
        "--without-heartbeat",
    ]


def fresh_django(root: Path, *, collect_static: bool = False) -> None:
    """Set up Django on the benchmark's environment, migrate its own database and empty it and
    its two Redis databases (broker/channel layer and cache), so each run starts alike."""
    sys.path.insert(0, str(root))
    import django
    import redis
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection

    django.setup()
    if collect_static:
        call_command("collectstatic", interactive=False, verbosity=0)  # DEBUG off serves the manifest's names
    call_command("migrate", interactive=False, verbosity=0)
    tables = connection.introspection.django_table_names(only_existing=True, include_views=False)
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE {} RESTART IDENTITY CASCADE".format(", ".join(f'"{t}"' for t in tables)))
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    redis.Redis.from_url(settings.CACHES["default"]["LOCATION"]).flushdb()
