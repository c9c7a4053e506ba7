"""`manage.py create_api_token EMAIL --scopes read,trade [--name N] [--expires-in-days D]`."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts import tokens
from accounts.models import User


class Command(BaseCommand):
    help = "Create a personal API token for a user and print it (it is shown only this once)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("email")
        parser.add_argument("--scopes", default="read", help="read, or read,trade (default: read).")
        parser.add_argument("--name", default="Command line", help="What the token is for.")
        parser.add_argument("--expires-in-days", type=int, default=None, help="Default: never expires.")

    def handle(self, *args: Any, **options: Any) -> None:
        user = User.objects.filter(email__iexact=options["email"].strip()).first()
        if user is None:
            raise CommandError(f"No user with the email {options['email']}.")
        days = options["expires_in_days"]
        if days is not None and days < 1:
            raise CommandError("--expires-in-days must be at least 1.")
        expires_at = timezone.now() + timedelta(days=days) if days else None
        try:
            issued = tokens.do_create_token(
                user, options["name"], options["scopes"].split(","), expires_at=expires_at
            )
        except tokens.TokenError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(issued.plaintext)
