"""A task for tests that run a real Celery worker: it records each start in Redis, then holds
its message (unacknowledged, as a tick does while it runs) until told how long."""

from __future__ import annotations

import os
import time

import redis
from celery import shared_task
from django.conf import settings


def starts_key(name: str) -> str:
    return f"{settings.REDIS_KEY_PREFIX}probe:{name}:starts"


@shared_task(name="bots.tests.worker_probe.hold", ignore_result=True, acks_late=True)
def hold(name: str, first_run_seconds: float) -> None:
    server = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    runs = server.rpush(starts_key(name), os.getpid())
    server.expire(starts_key(name), 600)
    if runs == 1:
        time.sleep(first_run_seconds)  # the worker is killed during this
