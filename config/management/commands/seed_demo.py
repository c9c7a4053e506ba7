from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from config.demo import seed_demo


class Command(BaseCommand):
    help = "Create or refresh the demo user (and, as features land, its demo objects)."

    def handle(self, *args: Any, **options: Any) -> None:
        demo = seed_demo()
        self.stdout.write(f"Demo login: {demo.email} / {demo.password}")
