"""A worker killed with SIGKILL while it holds a task: its message is handed to another worker
after TASK_VISIBILITY_TIMEOUT (30 s), not kombu's default hour. Real worker processes, the
test run's own Redis key space."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from django.conf import settings

from bots.tasks import BUSY_RETRY_SECONDS
from bots.tests.worker_probe import starts_key
from bots.webhooks.delivery import BACKOFF
from bots.webhooks.tasks import longest_countdown, queue_retry
from config.celery import app

ROOT = Path(__file__).resolve().parents[2]
CELERY = str(Path(sys.executable).parent / "celery")


def start_worker(queue: str, log: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "config.tests.settings"}
    command = [
        CELERY, "-A", "config", "worker", "-Q", queue, "-P", "solo", "-I", "bots.tests.worker_probe",
        "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "info",
    ]  # fmt: skip
    with log.open("ab") as output:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=output, stderr=subprocess.STDOUT, start_new_session=True
        )


def wait_for(condition, seconds: float, what: str, log: Path) -> float:
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > seconds:
            pytest.fail(f"{what} within {seconds} s. Worker log:\n{log.read_text()[-3000:]}")
        time.sleep(0.2)
    return time.monotonic() - started


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[list[subprocess.Popen[bytes]]]:
    started: list[subprocess.Popen[bytes]] = []
    yield started
    for worker in started:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGKILL)
            worker.wait(10)


@pytest.mark.slow
@pytest.mark.timeout(150)
def test_a_task_held_by_a_killed_worker_runs_again_within_a_minute(
    workers: list[subprocess.Popen[bytes]], tmp_path: Path
) -> None:
    assert settings.TASK_VISIBILITY_TIMEOUT == 30
    server = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    name, queue, log = uuid.uuid4().hex, f"probe-{uuid.uuid4().hex[:8]}", tmp_path / "workers.log"

    workers.append(start_worker(queue, log))
    app.send_task("bots.tests.worker_probe.hold", (name, 300), queue=queue)
    wait_for(lambda: server.llen(starts_key(name)) == 1, 60, "the first worker did not start the task", log)

    os.killpg(workers[0].pid, signal.SIGKILL)
    workers[0].wait(10)
    killed_at = time.monotonic()
    workers.append(start_worker(queue, log))

    wait_for(lambda: server.llen(starts_key(name)) >= 2, 60, "no worker ran the task again", log)
    again_after = time.monotonic() - killed_at
    assert again_after >= settings.TASK_VISIBILITY_TIMEOUT - 10, "not before the timeout: it was taken"
    first, second = server.lrange(starts_key(name), 0, -1)[:2]
    assert first != second, "run by the second worker"


def test_countdowns_stay_under_half_the_visibility_timeout() -> None:
    assert BUSY_RETRY_SECONDS < settings.TASK_VISIBILITY_TIMEOUT / 2
    assert longest_countdown() == settings.TASK_VISIBILITY_TIMEOUT / 2
    assert app.conf.broker_transport_options["visibility_timeout"] == settings.TASK_VISIBILITY_TIMEOUT


def test_a_webhook_retry_due_later_is_left_to_the_sweep_not_a_countdown_message() -> None:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    webhooks = settings.REDIS_KEY_PREFIX + settings.CELERY_WEBHOOKS_QUEUE
    broker.delete(webhooks)
    try:
        soon, *later = BACKOFF
        queue_retry(41, soon)
        assert broker.llen(webhooks) == 1, "a retry due in 10 s rides its countdown"
        for seconds in later:
            queue_retry(42, seconds)
        assert broker.llen(webhooks) == 1, "60 s and more: the broker would hand them out early"
    finally:
        broker.delete(webhooks)
