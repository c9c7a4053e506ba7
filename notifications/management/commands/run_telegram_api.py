from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from notifications.telegram.local_api import DEFAULT_TOKEN, DEFAULT_USERNAME, LocalBotApi


class Command(BaseCommand):
    help = "Serve a local Telegram Bot API stand-in (getMe, sendMessage, getUpdates, webhooks, 429s)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8081)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--token", default=DEFAULT_TOKEN)
        parser.add_argument("--username", default=DEFAULT_USERNAME)

    def handle(self, *args: Any, port: int, host: str, token: str, username: str, **options: Any) -> None:
        with LocalBotApi(token=token, username=username, host=host, port=port) as api:
            self.stdout.write(self.style.SUCCESS(f"Local Telegram Bot API listening on {api.url}"))
            self.stdout.write(
                f"Set TELEGRAM_API_BASE={api.url} TELEGRAM_BOT_TOKEN={token} TELEGRAM_BOT_USERNAME={username}"
            )
            self.stdout.write(
                f"Send as a user: curl -X POST {api.url}/__local/inject "
                '-H \'Content-Type: application/json\' -d \'{"chat_id": 42, "text": "/status"}\''
            )
            self.stdout.flush()
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                self.stdout.write("Stopping.")
