from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import URLValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from accounts.models import OwnedQuerySet
from exchanges import credentials
from exchanges.base import KeyPermissions
from exchanges.market_data.models import Candle
from exchanges.paper.models import PaperAccount, PaperBalance, PaperFill, PaperMarket, PaperOrder, PaperTick

__all__ = [
    "Candle",
    "ExchangeAccount",
    "PaperAccount",
    "PaperBalance",
    "PaperFill",
    "PaperMarket",
    "PaperOrder",
    "PaperTick",
]

KEY_TAIL = 4
LABEL_CONSTRAINT = "exchange_account_label_unique_per_owner"


class ExchangeName(models.TextChoices):
    BYBIT = "bybit", "Bybit"
    PAPER = "paper", "Paper trading"


class Environment(models.TextChoices):
    MAINNET = "mainnet", "Mainnet (real funds)"
    TESTNET = "testnet", "Testnet"
    DEMO = "demo", "Demo trading"
    PAPER = "paper", "Virtual funds"
    CUSTOM = "custom", "Custom URL"


class CheckOutcome(models.TextChoices):
    OK = "ok", "Key accepted"
    REFUSED = "refused", "Key refused"
    UNAVAILABLE = "unavailable", "Exchange did not answer"


ENVIRONMENTS: dict[str, tuple[str, ...]] = {
    ExchangeName.BYBIT: (Environment.MAINNET, Environment.TESTNET, Environment.DEMO, Environment.CUSTOM),
    ExchangeName.PAPER: (Environment.PAPER,),
}

validate_base_url = URLValidator(schemes=["http", "https"], message="Enter an http:// or https:// address.")


def permissions_snapshot(permissions: KeyPermissions) -> dict[str, Any]:
    """What we keep of a key check. Not `raw`: venues echo the key itself there."""
    return {
        "can_read": permissions.can_read,
        "can_trade_spot": permissions.can_trade_spot,
        "can_withdraw": permissions.can_withdraw,
        "read_only": permissions.read_only,
        "ip_whitelist": list(permissions.ip_whitelist),
        "expires_at": permissions.expires_at.isoformat() if permissions.expires_at else None,
    }


class ExchangeAccount(models.Model):
    """A trader's account on one venue, with its API key encrypted at rest."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="exchange_accounts"
    )
    label = models.CharField(max_length=60)
    exchange = models.CharField(max_length=16, choices=ExchangeName.choices)
    environment = models.CharField(max_length=16, choices=Environment.choices)
    base_url = models.CharField(max_length=200, blank=True, validators=[validate_base_url])
    api_key_encrypted = models.TextField(blank=True, editable=False)
    api_secret_encrypted = models.TextField(blank=True, editable=False)
    key_last4 = models.CharField(max_length=KEY_TAIL, blank=True, editable=False)
    permissions = models.JSONField(default=dict, blank=True, editable=False)
    last_checked_at = models.DateTimeField(null=True, blank=True, editable=False)
    check_outcome = models.CharField(max_length=16, choices=CheckOutcome.choices, blank=True, editable=False)
    check_messages = models.JSONField(default=list, blank=True, editable=False)
    # PROTECT: a paper account goes only with its exchange account (do_delete_account).
    paper_account = models.OneToOneField(
        PaperAccount,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.PROTECT,
        related_name="exchange_account",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[OwnedQuerySet[ExchangeAccount]] = OwnedQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        ordering = ("label", "id")
        constraints = (
            models.UniqueConstraint("owner", Lower("label"), name=LABEL_CONSTRAINT),
            models.CheckConstraint(
                condition=models.Q(exchange=ExchangeName.PAPER, environment=Environment.PAPER)
                | models.Q(exchange=ExchangeName.BYBIT, environment__in=ENVIRONMENTS[ExchangeName.BYBIT]),
                name="exchange_account_environment_fits_exchange",
            ),
            models.CheckConstraint(
                condition=models.Q(environment=Environment.CUSTOM, base_url__gt="")
                | (~models.Q(environment=Environment.CUSTOM) & models.Q(base_url="")),
                name="exchange_account_base_url_only_for_custom",
            ),
            models.CheckConstraint(
                condition=models.Q(exchange=ExchangeName.PAPER, paper_account__isnull=False)
                | (~models.Q(exchange=ExchangeName.PAPER) & models.Q(paper_account__isnull=True)),
                name="exchange_account_paper_account_only_for_paper",
            ),
        )

    def __str__(self) -> str:
        return self.label

    @property
    def needs_keys(self) -> bool:
        return self.exchange != ExchangeName.PAPER

    @property
    def masked_key(self) -> str:
        return f"••••{self.key_last4}" if self.key_last4 else "—"

    @property
    def venue_label(self) -> str:
        if self.exchange == ExchangeName.PAPER:
            return self.get_exchange_display()
        return f"{self.get_exchange_display()} · {self.get_environment_display()}"

    def set_credentials(self, api_key: str, api_secret: str) -> None:
        self.api_key_encrypted = credentials.encrypt(api_key)
        self.api_secret_encrypted = credentials.encrypt(api_secret)
        self.key_last4 = api_key[-KEY_TAIL:]

    def record_check(
        self, outcome: str, messages: list[str], permissions: KeyPermissions | None = None
    ) -> None:
        """Keep the last check's outcome; a check that got no answer leaves the old snapshot."""
        self.check_outcome = outcome
        self.check_messages = messages
        self.last_checked_at = timezone.now()
        if permissions is not None:
            self.permissions = permissions_snapshot(permissions)

    def clean(self) -> None:
        errors: dict[str, str] = {}
        if self.environment not in ENVIRONMENTS.get(self.exchange, ()):
            errors["environment"] = f"{self.get_exchange_display()} has no “{self.environment}” environment."
        if self.environment == Environment.CUSTOM and not settings.ALLOW_CUSTOM_EXCHANGE_URLS:
            errors["environment"] = "Custom exchange addresses are turned off on this server."
        elif self.environment == Environment.CUSTOM and not self.base_url:
            errors["base_url"] = "A custom environment needs its base URL."
        elif self.environment != Environment.CUSTOM and self.base_url:
            errors["base_url"] = "Only a custom environment takes a base URL."
        if self.needs_keys and not (self.api_key_encrypted and self.api_secret_encrypted):
            errors["api_key"] = "Enter the API key and secret from your exchange."
        if self._label_taken():
            errors["label"] = f"You already have an exchange account called “{self.label}”."
        if errors:
            raise ValidationError(errors)

    def _label_taken(self) -> bool:
        same_label = ExchangeAccount.objects.filter(owner_id=self.owner_id, label__iexact=self.label)
        return same_label.exclude(pk=self.pk).exists()
