"""Webhook sends travel on a queue of their own, which every worker (the embedded one too) drains."""

from __future__ import annotations

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
    broker.delete(*QUEUES)
    try:
        deliver_webhook.delay(41)
        deliver_webhook.apply_async((42,), countdown=0)  # how a retry is queued
        tick_bot.delay(7)
        assert [broker.llen(queue) for queue in QUEUES] == [0, 1, 2]
    finally:
        broker.delete(*QUEUES)


def test_every_worker_drains_the_webhooks_queue() -> None:
    assert worker_queues() == ["priority", "celery", "webhooks"]
    root = settings.BASE_DIR
    for path in ("Procfile", "docker-compose.yml", "README.md"):
        text = (root / path).read_text()
        assert "--queues priority,celery,webhooks" in text, path
        assert "--queues priority,celery " not in text, path
