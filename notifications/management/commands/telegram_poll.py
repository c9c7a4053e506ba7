from __future__ import annotations

import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from notifications.telegram import client
from notifications.telegram.polling import POLL_SECONDS, poll_forever


class Command(BaseCommand):
    help = "Receive the bot's updates by long polling (local runs; production uses the webhook)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--timeout", type=int, default=POLL_SECONDS, help="Seconds each poll waits.")

    def handle(self, *args: Any, timeout: int, **options: Any) -> None:
        if not client.is_configured():
            raise CommandError("TELEGRAM_BOT_TOKEN is not set: Telegram is not set up on this server.")
        self.stdout.write(self.style.SUCCESS("Polling Telegram for updates (the webhook is removed)."))
        self.stdout.flush()
        try:
            poll_forever(threading.Event(), timeout)
        except KeyboardInterrupt:
            self.stdout.write("Stopping.")
