"""The test suite's settings: the product's own, on a PostgreSQL database and a Redis key space
of this run's own, so two suites, or a suite beside a running stack, never touch each other's data.

The run's name is put in the environment before the product's settings read it, so the
processes a test starts (a simulator, a server) inherit the same database and key space.
"""

from __future__ import annotations

import os
import secrets

RUN = os.environ.setdefault("GRIDWISE_TEST_RUN", secrets.token_hex(4))
os.environ.setdefault("REDIS_KEY_PREFIX", f"gwtest-{RUN}:")
# Parallel workers (pytest-xdist) share the run's name, so each narrows the key space to its
# own; pytest-django gives each its own database ("..._gw0"). The worker's own subprocesses
# inherit both variables and must not narrow it twice.
WORKER = os.environ.get("PYTEST_XDIST_WORKER", "")
if WORKER and not os.environ["REDIS_KEY_PREFIX"].endswith(f"{WORKER}:"):
    os.environ["REDIS_KEY_PREFIX"] += f"{WORKER}:"

from config.settings import *  # noqa: E402, F403
from config.settings import DATABASES  # noqa: E402

DATABASES["default"]["TEST"] = {"NAME": f"test_gridwise_{RUN}"}
