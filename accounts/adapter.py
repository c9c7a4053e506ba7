from __future__ import annotations

from typing import Any

from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib.sites.requests import RequestSite

PRODUCT_NAME = "Gridwise"


class AccountAdapter(DefaultAccountAdapter):
    def get_login_stages(self) -> list[str]:
        # After allauth's own stages (email verification when mandatory).
        return [*super().get_login_stages(), "accounts.stages.TwoFactorStage"]

    def send_mail(self, template_prefix: str, email: str, context: dict[str, Any]) -> None:
        """Every account email speaks as the product: without the sites framework allauth names
        the site after the request's host, and greeted people "from 127.0.0.1:8000"."""
        site = RequestSite(allauth_context.request)
        site.name = PRODUCT_NAME
        super().send_mail(template_prefix, email, {"current_site": site, **context})
