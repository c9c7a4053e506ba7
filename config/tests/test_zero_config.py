"""`manage.py run` with nothing configured serves the product from one process."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import closing
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def fetch(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own loopback server
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for(url: str, process: subprocess.Popen[str], seconds: float = 90) -> tuple[int, str]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"`manage.py run` exited early with {process.returncode}")
        try:
            return fetch(url)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.5)
    pytest.fail(f"{url} did not answer within {seconds}s")


@pytest.mark.slow
def test_run_serves_healthz_and_login_with_an_empty_environment() -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run", "--port", str(port)],
        cwd=ROOT,
        env={},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        status, body = wait_for(f"http://127.0.0.1:{port}/healthz", process)
        assert status == 200, body
        assert '"status": "ok"' in body
        status, body = fetch(f"http://127.0.0.1:{port}/accounts/login/")
        assert status == 200
        assert 'name="password"' in body
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=30)
    assert f"http://127.0.0.1:{port}/" in output
    assert "Demo login: demo@gridwise.local / gridwise-demo" in output


@pytest.mark.slow
def test_in_process_worker_and_beat_run_the_demo_bot(tmp_path: Path) -> None:
    """Beat dispatches, the worker ticks: the demo bot lays out its grid on the replayed market."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "manage.py", "run", "--port", str(port)],
        cwd=ROOT,
        env={"DATA_DIR": str(tmp_path)},  # nothing but where the SQLite file goes
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz", process)
        deadline = time.monotonic() + 60
        status, open_orders = None, 0
        while time.monotonic() < deadline:
            status, open_orders = demo_bot_progress(tmp_path / "gridwise.sqlite3")
            if status == "running" and open_orders == 20:
                break
            time.sleep(1)
        assert status == "running"
        assert open_orders == 20
    finally:
        process.terminate()
        process.communicate(timeout=30)


def demo_bot_progress(database: Path) -> tuple[str | None, int]:
    with closing(sqlite3.connect(database, timeout=10)) as connection:
        row = connection.execute("SELECT id, status FROM bots_bot WHERE name = 'Demo BTC grid'").fetchone()
        if row is None:
            return None, 0
        (count,) = connection.execute(
            "SELECT COUNT(*) FROM trading_order WHERE bot_id = ? AND status = 'open'", (row[0],)
        ).fetchone()
        return row[1], count
