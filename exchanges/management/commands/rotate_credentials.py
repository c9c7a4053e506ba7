from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from exchanges import credentials
from exchanges.models import ExchangeAccount


class Command(BaseCommand):
    help = "Re-encrypt every exchange account's API key and secret under the first key in CREDENTIALS_KEYS."

    def handle(self, *args: Any, **options: Any) -> None:
        rotated = 0
        # All or nothing: a half-rotated table would make retiring the old key unsafe.
        with transaction.atomic():
            accounts = (
                ExchangeAccount.objects.exclude(api_key_encrypted="").select_for_update().order_by("pk")
            )
            for account in accounts:
                self._rotate(account)
                rotated += 1
        self.stdout.write(
            f"Re-encrypted the credentials of {rotated} exchange account(s) under the first key."
        )

    def _rotate(self, account: ExchangeAccount) -> None:
        try:
            account.api_key_encrypted = credentials.rotate(account.api_key_encrypted)
            account.api_secret_encrypted = credentials.rotate(account.api_secret_encrypted)
        except credentials.CredentialsUnreadable as exc:
            raise CommandError(
                f"Exchange account {account.pk}: no key in CREDENTIALS_KEYS decrypts it. Nothing was changed."
            ) from exc
        account.save(update_fields=["api_key_encrypted", "api_secret_encrypted"])
