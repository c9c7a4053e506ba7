from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from billing import webhooks
from billing.stripe_api import sync_catalogue


class Command(BaseCommand):
    help = (
        "Create billing/plans.py's Products and monthly and yearly prices in Stripe, and the webhook "
        "endpoint's record; safe to run again."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        changes = sync_catalogue()
        for change in changes:
            self.stdout.write(f"created or retired {change}")
        webhooks.ensure_endpoint()
        self.stdout.write(
            f"Webhook endpoint: /stripe/webhook/<STRIPE_WEBHOOK_UUID>/ ({webhooks.webhook_path()})"
        )
        self.stdout.write(self.style.SUCCESS(f"Stripe catalogue in sync ({len(changes)} changes)."))
