from __future__ import annotations

from django.apps import AppConfig


class ConfigConfig(AppConfig):
    """Hosts project-wide commands (run, seed_demo) and the health view."""

    name = "config"
    verbose_name = "Gridwise"
