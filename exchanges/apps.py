from __future__ import annotations

from django.apps import AppConfig


class ExchangesConfig(AppConfig):
    name = "exchanges"
