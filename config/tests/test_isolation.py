"""A test run keeps to a PostgreSQL database and a Redis key space of its own: two suites, or a
suite beside a running stack on the same servers, never touch each other's data."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor

import redis
from channels.layers import get_channel_layer
from django.conf import settings
from django.core.cache import cache
from django.db import connection

from config.celery import app


def other_runs_settings() -> tuple[str, str]:
    """What a second suite, started now beside this one, would use."""
    ours = ("GRIDWISE_TEST_RUN", "REDIS_KEY_PREFIX", "PYTEST_XDIST_WORKER")
    env = {key: value for key, value in os.environ.items() if key not in ours}
    code = (
        "import config.tests.settings as s; "
        "print(s.REDIS_KEY_PREFIX); print(s.DATABASES['default']['TEST']['NAME'])"
    )
    command = [sys.executable, "-c", code]
    out = subprocess.run(
        command, env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, check=True
    ).stdout.split()
    return out[0], out[1]


def test_each_run_has_a_database_and_key_prefix_of_its_own(db: None) -> None:
    run = os.environ["GRIDWISE_TEST_RUN"]
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    prefix = settings.REDIS_KEY_PREFIX
    # A parallel worker narrows both to its own within the run.
    assert prefix == (f"gwtest-{run}:{worker}:" if worker else f"gwtest-{run}:")
    assert connection.settings_dict["NAME"] == (
        f"test_gridwise_{run}_{worker}" if worker else f"test_gridwise_{run}"
    )
    other_prefix, other_database = other_runs_settings()
    assert other_prefix != settings.REDIS_KEY_PREFIX
    assert other_database != connection.settings_dict["NAME"]


def test_clearing_the_cache_leaves_everyone_elses_keys_alone() -> None:
    server = redis.Redis.from_url(settings.CACHE_URL)
    server.set("someone-elses-session", "keep me", ex=60)
    try:
        cache.set("ours", "gone soon")
        assert server.exists(cache.make_key("ours")), "the cache writes under the run's prefix"
        assert cache.make_key("ours").startswith(settings.REDIS_KEY_PREFIX)

        cache.clear()

        assert cache.get("ours") is None
        assert server.get("someone-elses-session") == b"keep me"
    finally:
        server.delete("someone-elses-session")


def test_queues_and_channel_groups_live_under_the_prefix() -> None:
    assert app.conf.broker_transport_options["global_keyprefix"] == settings.REDIS_KEY_PREFIX
    layer = get_channel_layer()

    def on_own_loop(call: object) -> None:
        # A browser test earlier in the run leaves Playwright's loop on this thread.
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, call).result()  # type: ignore[arg-type]

    on_own_loop(layer.group_add("isolation-probe", "isolation-probe.channel"))
    try:
        server = redis.Redis.from_url(settings.REDIS_URL)
        names = [key.decode() for key in server.scan_iter(match="*isolation-probe*")]
        assert names, "the group was written"
        assert all(name.startswith(settings.REDIS_KEY_PREFIX) for name in names), names
    finally:
        on_own_loop(layer.group_discard("isolation-probe", "isolation-probe.channel"))
