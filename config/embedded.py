"""Celery worker and beat as threads of the web process (embedded shape only).

The in-memory broker is private to one process, so the worker and the
scheduler must live in the same process as the web server that enqueues.
"""

from __future__ import annotations

import socket
import threading

from celery.beat import Service
from django.conf import settings

from config.celery import app


def worker_queues() -> list[str]:
    """Every queue a worker must drain; the in-memory broker has no other worker."""
    return settings.CELERY_WORKER_QUEUES.split(",")


def start_embedded_worker(concurrency: int = 2) -> None:
    worker = app.WorkController(
        hostname=f"embedded@{socket.gethostname()}",
        pool="threads",
        concurrency=concurrency,
        queues=worker_queues(),
        loglevel="INFO",
        without_heartbeat=True,
        without_mingle=True,
        without_gossip=True,
    )
    threading.Thread(target=worker.start, name="celery-worker", daemon=True).start()
    # A short max interval lets the scheduler notice new entries quickly.
    beat = Service(app, max_interval=1, scheduler_cls=settings.CELERY_BEAT_SCHEDULER)
    threading.Thread(target=beat.start, name="celery-beat", daemon=True).start()


def start_embedded_stripe(site_url: str) -> str | None:
    """localstripe for the zero-config run: no Stripe account or network needed to subscribe.

    Started only in the embedded shape with no STRIPE_API_BASE set; the catalogue is synced
    into it and it posts its (signed) events to our webhook endpoint. Returns its URL."""
    from django.conf import settings

    from billing import stripe_api, webhooks
    from billing.stripe_server import register_webhook, start_localstripe

    if not settings.EMBEDDED or settings.STRIPE_API_BASE:
        return None
    server = start_localstripe()
    stripe_api.sync_catalogue()
    webhooks.ensure_endpoint()
    register_webhook(server, site_url.rstrip("/") + webhooks.webhook_path())
    return server.url


def start_embedded_telegram() -> str:
    """The local Bot API server and the long poller, when no real bot is configured
    (TELEGRAM_LOCAL_API): Telegram works end to end on this machine. Its URL, or ""."""
    if not settings.TELEGRAM_LOCAL_API:
        return ""
    from notifications.telegram.local_api import LocalBotApi
    from notifications.telegram.polling import start_poller

    api = LocalBotApi(port=settings.TELEGRAM_LOCAL_API_PORT).start()
    # The worker and the web server are threads of this process: they read these settings.
    settings.TELEGRAM_API_BASE = api.api_base
    settings.TELEGRAM_BOT_TOKEN = api.token
    settings.TELEGRAM_BOT_USERNAME = api.username
    start_poller(timeout=10)
    return api.url
