from __future__ import annotations

from django.apps import AppConfig


class BotsConfig(AppConfig):
    name = "bots"

    def ready(self) -> None:
        from bots import metrics, signals  # noqa: F401 - signals connects the fill wake-up
        from bots.backtests import tasks as backtest_tasks  # noqa: F401 - and the backtest ones
        from bots.webhooks import tasks  # noqa: F401 - registers the webhook tasks with Celery

        metrics.connect_stream()
