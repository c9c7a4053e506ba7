"""A trader's account-wide risk rules: every rule is optional; none set means no limit."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models


class LossAction(models.TextChoices):
    STOP_ALL = "stop_all", "Stop all bots"
    ALERT = "alert", "Only alert me"


class RiskRules(models.Model):
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="risk_rules")
    # In each quote asset: today's loss in any one quote reaching it trips the rule.
    daily_loss_limit = models.DecimalField(max_digits=30, decimal_places=8, null=True, blank=True)
    daily_loss_action = models.CharField(
        max_length=16, choices=LossAction.choices, default=LossAction.STOP_ALL
    )
    max_total_investment = models.DecimalField(max_digits=30, decimal_places=8, null=True, blank=True)
    max_bots_per_symbol = models.PositiveIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    # Futures: the highest leverage a futures grid may use. The trader's own cap, and one staff
    # may set on the account (which the trader cannot raise); the lowest of them and the server's
    # FUTURES_MAX_LEVERAGE applies.
    max_leverage = models.PositiveSmallIntegerField(null=True, blank=True, validators=[MinValueValidator(1)])
    staff_max_leverage = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MinValueValidator(1)]
    )
    # The local date the daily loss limit last tripped: claimed by a conditional UPDATE, once a day.
    tripped_on = models.DateField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "risk rules"
        verbose_name_plural = "risk rules"

    def __str__(self) -> str:
        return f"Risk rules of user {self.user_id}"
