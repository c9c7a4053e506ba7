"""Webhook sends travel on a queue of their own, drained with the routine ticks; fill wake-ups
have a worker of their own in every deployment."""

from __future__ import annotations

import re

import redis
from django.conf import settings

from bots.tasks import tick_bot
from bots.webhooks.tasks import deliver_webhook, prune_old_deliveries, sweep_due_deliveries
from config.celery import app
from config.embedded import worker_queues

QUEUES = ("priority", "celery", "webhooks")


def resolved_queue(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_webhook_tasks_resolve_to_the_webhooks_queue() -> None:
    for task in (deliver_webhook, sweep_due_deliveries, prune_old_deliveries):
        assert resolved_queue(task.name) == "webhooks", task.name
    assert resolved_queue(tick_bot.name) == "celery"


def test_a_queued_send_lands_on_the_webhooks_queue_not_with_the_ticks() -> None:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    keys = [settings.REDIS_KEY_PREFIX + queue for queue in QUEUES]
    broker.delete(*keys)
    try:
        deliver_webhook.delay(41)
        deliver_webhook.apply_async((42,), countdown=0)  # how a retry is queued
        tick_bot.delay(7)
        assert [broker.llen(key) for key in keys] == [0, 1, 2]
    finally:
        broker.delete(*keys)


def test_every_queue_is_drained_and_wake_ups_have_a_worker_of_their_own() -> None:
    assert worker_queues() == ["priority", "celery", "webhooks"]  # the embedded worker: all of them
    for path in ("Procfile", "docker-compose.yml", "README.md"):
        text = (settings.BASE_DIR / path).read_text()
        commands = [line for line in text.splitlines() if "celery -A config worker --queues" in line]
        drained = [set(re.findall(r"--queues (\S+)", line)[0].split(",")) for line in commands]
        assert set().union(*drained) == set(QUEUES), path
        assert {"priority"} in drained, f"{path}: fill wake-ups never wait behind routine ticks"
        routine = [line for line, queues in zip(commands, drained, strict=True) if "celery" in queues]
        assert routine, path
        assert all("nice -n" in line for line in routine), f"{path}: routine ticks yield the CPU"
