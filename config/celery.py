"""The Celery app. Its schedule lives in settings (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import os
from typing import Any

from celery import Celery, Task
from celery.signals import task_postrun, task_prerun

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("gridwise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@task_prerun.connect
@task_postrun.connect
def recycle_database_connections(sender: Task | None = None, **kwargs: Any) -> None:
    """Around each task, what Django does around each request: drop only broken or aged connections.

    Celery's Django fixup would close every connection before and after every task (a new
    PostgreSQL backend for each few-millisecond tick); settings.CELERY_DB_REUSE_MAX turns that
    off, and this keeps CONN_MAX_AGE and CONN_HEALTH_CHECKS meaningful in workers instead.
    """
    if sender is not None and getattr(sender.request, "is_eager", False):
        return  # inside the caller's own request or test transaction: not ours to close
    from django.db import close_old_connections

    close_old_connections()
