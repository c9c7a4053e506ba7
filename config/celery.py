"""The Celery app. Its schedule lives in settings (CELERY_BEAT_SCHEDULE)."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("gridwise")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
