from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from notifications.telegram import client
from notifications.telegram.polling import ALLOWED_UPDATES


class Command(BaseCommand):
    help = "Point Telegram at this site's webhook (/telegram/webhook/), with the secret token."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("url", help="The public https URL of /telegram/webhook/.")

    def handle(self, *args: Any, url: str, **options: Any) -> None:
        if not client.is_configured() or not settings.TELEGRAM_WEBHOOK_SECRET:
            raise CommandError("Set TELEGRAM_BOT_TOKEN and TELEGRAM_WEBHOOK_SECRET first.")
        client.call(
            lambda bot: bot.set_webhook(
                url, secret_token=settings.TELEGRAM_WEBHOOK_SECRET, allowed_updates=ALLOWED_UPDATES
            )
        )
        self.stdout.write(self.style.SUCCESS(f"Telegram will post updates to {url}."))
