from __future__ import annotations

from django.apps import AppConfig


class BillingConfig(AppConfig):
    name = "billing"

    def ready(self) -> None:
        # Connects the sign-up receiver that opens the trial.
        from billing import signals  # noqa: F401
