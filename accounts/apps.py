from __future__ import annotations

from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "accounts"
    # allauth's `account` app is "Accounts" in the admin too; one name per section.
    verbose_name = "Users and security"

    def ready(self) -> None:
        from accounts import audit  # noqa: F401 - connects the audit signal receivers
