"""The production shape installs from `requirements.txt` alone and runs: a virtualenv without the
development pins imports every module of the product, and its web server, worker, beat and
simulator start against the real PostgreSQL and Redis."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "billing", "bots", "config", "exchanges", "trading")
IMPORT_EVERY_MODULE = f"""
import importlib, pathlib
import django
django.setup()
import config.urls  # as the web process loads it first; allauth's modules import in its order
for app in {APPS!r}:
    for path in sorted(pathlib.Path(app).glob("**/*.py")):
        if "tests" in path.parts or "migrations" in path.parts:
            continue
        importlib.import_module(".".join(path.with_suffix("").parts).removesuffix(".__init__"))
print("imported every module")
"""


@pytest.fixture(scope="module")
def runtime_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv holding what `requirements.txt` pins, and nothing from the dev file."""
    venv = tmp_path_factory.mktemp("runtime") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    pip = [str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    install = subprocess.run(
        [*pip, "-r", str(ROOT / "requirements.txt")], capture_output=True, text=True, timeout=900
    )
    assert install.returncode == 0, install.stderr[-3000:]
    installed = subprocess.run(
        [str(python), "-m", "pip", "freeze"], check=True, capture_output=True, text=True
    ).stdout.lower()
    assert "pytest" not in installed, "the runtime set must not pull in the test tools"
    return python


@pytest.fixture
def production_env() -> dict[str, str]:
    """The production shape's variables, on this run's database and Redis key space."""
    database = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + "/" + connection.settings_dict["NAME"]
    keep = ("PATH", "HOME", "LANG", "GRIDWISE_TEST_RUN", "REDIS_KEY_PREFIX")
    return {key: os.environ[key] for key in keep if key in os.environ} | {
        "DATABASE_URL": database,
        "REDIS_URL": settings.REDIS_URL,
        "CACHE_URL": settings.CACHE_URL,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DEBUG": "true",  # the production checks have tests of their own (test_settings_safety)
        "PAPER_FEED": "none",
    }


def start(command: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )


def read_until(process: subprocess.Popen[str], pattern: str, seconds: float = 60) -> str:
    """Output up to the first line matching `pattern` (the process is read line by line)."""
    assert process.stdout is not None
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line and process.poll() is not None:
            break
        seen.append(line)
        if re.search(pattern, line):
            return "".join(seen)
    raise AssertionError(f"never printed {pattern!r}:\n" + "".join(seen[-40:]))


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        process.terminate()
    for process in started:
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_the_runtime_set_imports_every_module(runtime_python: Path, production_env: dict[str, str]) -> None:
    result = subprocess.run(
        [str(runtime_python), "-c", IMPORT_EVERY_MODULE],
        cwd=ROOT,
        env=production_env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "imported every module" in result.stdout


def test_the_runtime_set_serves_the_production_processes(
    runtime_python: Path, production_env: dict[str, str], processes: list[subprocess.Popen[str]]
) -> None:
    bin_dir = runtime_python.parent
    worker = start(
        [
            str(bin_dir / "celery"),
            "-A",
            "config",
            "worker",
            "--queues",
            "priority,celery,webhooks",
            "--hostname",
            f"install-{os.getpid()}@%h",
            "--concurrency",
            "1",
            "--loglevel",
            "INFO",
        ],
        production_env,
    )
    processes.append(worker)
    read_until(worker, r"ready\.")

    beat = start([str(bin_dir / "celery"), "-A", "config", "beat", "--loglevel", "INFO"], production_env)
    processes.append(beat)
    read_until(beat, r"beat: Starting")

    port = free_port()
    web = start(
        [str(bin_dir / "uvicorn"), "config.asgi:application", "--host", "127.0.0.1", "--port", str(port)],
        production_env | {"DB_POOL": "on"},
    )
    processes.append(web)
    read_until(web, r"Uvicorn running")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=10) as response:
        assert response.status == 200, "database, channel layer and broker all answer"

    # The worker takes work from the broker: it answers a ping through Redis.
    ping = subprocess.run(
        [str(bin_dir / "celery"), "-A", "config", "inspect", "ping", "--timeout", "10"],
        cwd=ROOT,
        env=production_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "pong" in ping.stdout, ping.stdout + ping.stderr

    simulator = subprocess.run(
        [str(runtime_python), "manage.py", "run_bybit_simulator", "--help"],
        cwd=ROOT,
        env=production_env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert simulator.returncode == 0, simulator.stderr[-3000:]

    # And it trades: the demo bot, started through the broker, buys its base and lays out its grid
    # on the replayed market, ticked by beat's dispatcher and the worker.
    seeded = subprocess.run(
        [str(runtime_python), "manage.py", "seed_demo"],
        cwd=ROOT,
        env=production_env | {"PAPER_FEED": "replay"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert seeded.returncode == 0, seeded.stderr[-3000:]
    assert demo_bot_trades(seconds=90) == ("running", 20)


def demo_bot_trades(seconds: float) -> tuple[str, int]:
    """The demo bot's status and open orders once it has a fill and its grid, or at the deadline."""
    from bots.models import Bot
    from trading.models import Fill, Order, OrderStatus

    deadline = time.monotonic() + seconds
    while True:
        bot = Bot.objects.filter(name="Demo BTC grid").first()
        if bot is not None:
            opened = Order.objects.filter(bot=bot, status=OrderStatus.OPEN).count()
            if (Fill.objects.filter(bot=bot).exists() and opened == 20) or time.monotonic() > deadline:
                return bot.status, opened
        elif time.monotonic() > deadline:
            return "never created", 0
        time.sleep(1)


def test_the_image_installs_the_same_set() -> None:
    """`docker compose build` runs the Dockerfile: its only Python install is requirements.txt."""
    installs = [
        line
        for line in (ROOT / "Dockerfile").read_text().splitlines()
        if re.search(r"\bpip\b.*install", line)
    ]
    assert installs == ["RUN pip install -r requirements.txt"]
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "build: ." in compose
