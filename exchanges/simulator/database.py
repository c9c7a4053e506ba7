"""The simulator's own database: a venue never shares the product's file.

Beside `scripts/run` (the embedded shape on one SQLite file), a simulator writing the same file
fought the product for SQLite's single writer lock, and the product's requests waited on it.
The simulator keeps its paper market in a SQLite file of its own, made ready on start.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db import connections

from config.database import sqlite_database

DEFAULT_FILE_NAME = "bybit-simulator.sqlite3"


def default_path() -> Path:
    return Path(settings.DATA_DIR) / DEFAULT_FILE_NAME


def use_own_database(path: Path) -> None:
    """Point every connection of this process at `path` and bring its tables up to date.

    Called before the process has touched any database: connections are made lazily, per
    thread, from `connections.settings`, which is rebuilt here from the new DATABASES.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    connections.close_all()
    for alias in list(connections):
        with contextlib.suppress(AttributeError):  # never opened on this thread
            del connections[alias]
    settings.DATABASES = {"default": sqlite_database(path)}
    # `connections.settings` is a cached property over `_settings`: both go, so the next
    # connection is configured from the DATABASES just set.
    connections._settings = None  # type: ignore[attr-defined]
    connections.__dict__.pop("settings", None)
    call_command("migrate", interactive=False, verbosity=0)
