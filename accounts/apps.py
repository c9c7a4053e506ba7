from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    # allauth's `account` app is "Accounts" in the admin too; one name per section.
    verbose_name = "Users and security"

    def ready(self) -> None:
        # Importing them connects their signal receivers: the audit log, and live sockets
        # that end with their session.
        from accounts import audit, live_sessions  # noqa: F401
