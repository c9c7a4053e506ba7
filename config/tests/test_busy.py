"""A stop that meets a locked SQLite database (the embedded shape) is never a 500.

Another connection holds SQLite's write lock, as a second process writing the same file did
(the simulator, before it had a file of its own). The product waits SQLITE_BUSY_TIMEOUT,
runs the request once more, then answers 503 with a page or JSON saying nothing was recorded.
"""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from pathlib import Path

import pytest
import requests

from config.database import SQLITE_BUSY_TIMEOUT
from config.tests.test_zero_config import ROOT, free_port, wait_for

pytestmark = [pytest.mark.slow]


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[tuple[str, Path]]:
    """`manage.py run` on a fresh DATA_DIR (its worker off: nothing else writes): its URL and file."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run", "--port", str(port), "--no-worker"],
        cwd=ROOT,
        env={"DATA_DIR": str(tmp_path)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", process)
        yield f"http://127.0.0.1:{port}", tmp_path / "gridwise.sqlite3"
    finally:
        process.terminate()
        process.wait(timeout=30)


def _signed_in(url: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{url}/accounts/login/", timeout=10)
    answer = session.post(
        f"{url}/accounts/login/",
        data={
            "login": "demo@gridwise.local",
            "password": "gridwise-demo",
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        timeout=10,
    )
    assert answer.status_code == 200
    assert "/accounts/login/" not in answer.url
    return session


def _bot(database: Path) -> tuple[int, str]:
    with closing(sqlite3.connect(database)) as reader:
        row = reader.execute("SELECT id, status FROM bots_bot").fetchone()
    return int(row[0]), str(row[1])


def test_stop_with_the_database_locked_answers_503_and_works_once_it_is_free(
    embedded: tuple[str, Path],
) -> None:
    url, database = embedded
    session = _signed_in(url)
    bot_id, status = _bot(database)
    assert status == "starting"
    page = f"{url}/bots/{bot_id}/"
    session.get(page, timeout=10)  # the session's activity is recorded now, not during the stop
    csrf = str(session.cookies["csrftoken"])

    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # SQLite's one write lock, held by another connection
    try:

        def stop_from_the_page() -> tuple[requests.Response, float]:
            started = time.monotonic()
            answer = session.post(
                f"{page}emergency-stop/",
                data={"csrfmiddlewaretoken": csrf},
                headers={"Referer": page},
                allow_redirects=False,
                timeout=60,
            )
            return answer, time.monotonic() - started

        def stop_from_a_script() -> tuple[requests.Response, float]:
            started = time.monotonic()
            answer = session.post(
                f"{url}/api/v1/bots/{bot_id}/stop/", json={}, headers={"X-CSRFToken": csrf}, timeout=60
            )
            return answer, time.monotonic() - started

        with ThreadPoolExecutor(2) as pool:
            from_page, from_script = pool.submit(stop_from_the_page), pool.submit(stop_from_a_script)
            (answer, page_seconds), (api_answer, api_seconds) = from_page.result(), from_script.result()
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert answer.status_code == 503, answer.text[:500]
    assert "The database is busy; your stop was not recorded, try again." in answer.text
    assert f'href="{page}"' in answer.text  # back to the page the stop was sent from
    assert answer.headers["Retry-After"]
    assert api_answer.status_code == 503, api_answer.text[:500]
    assert api_answer.json()["error"]["code"] == "database_busy"
    # One wait for the lock, then one more (a loaded machine may add a little): never a 500.
    for seconds in (page_seconds, api_seconds):
        assert 2 * SQLITE_BUSY_TIMEOUT - 1 < seconds < 2 * SQLITE_BUSY_TIMEOUT + 10
    assert _bot(database)[1] == "starting"  # nothing half-recorded

    answer = session.post(
        f"{page}emergency-stop/", data={"csrfmiddlewaretoken": csrf}, allow_redirects=False, timeout=10
    )
    assert answer.status_code == 302
    assert _bot(database)[1] == "stopping"
