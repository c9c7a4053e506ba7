from __future__ import annotations

from typing import Any

import uvicorn
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from config.demo import seed_demo
from config.embedded import start_embedded_stripe, start_embedded_telegram, start_embedded_worker


class Command(BaseCommand):
    help = "Serve Gridwise from one process: migrate, seed demo data, run web, worker and beat."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--no-worker", action="store_true", help="Do not start Celery in-process.")

    def handle(self, *args: Any, port: int, host: str, no_worker: bool, **options: Any) -> None:
        call_command("migrate", interactive=False, verbosity=0)
        demo = seed_demo()
        stripe_url = start_embedded_stripe(f"http://{host}:{port}")
        if settings.EMBEDDED and not no_worker:
            start_embedded_worker()
        elif not no_worker:
            self.stdout.write(
                "Broker is external: start "
                f"`celery -A config worker --queues {settings.CELERY_WORKER_QUEUES}` "
                "and `celery -A config beat`."
            )
        telegram = start_embedded_telegram()
        self.stdout.write(self.style.SUCCESS(f"Gridwise is running at http://{host}:{port}/"))
        if telegram:
            self.stdout.write(
                f"Local Telegram Bot API at {telegram} (POST /__local/inject to talk to the bot)"
            )
        self.stdout.write(f"Demo login: {demo.email} / {demo.password}")
        if stripe_url:
            self.stdout.write(f"Payments: localstripe at {stripe_url} (test card 4242 4242 4242 4242)")
        self.stdout.flush()
        uvicorn.run("config.asgi:application", host=host, port=port, log_level="info", lifespan="off")
