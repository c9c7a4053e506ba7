"""Bots: a strategy config on an exchange account, its lifecycle and its event log."""

from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.db import models

from accounts.models import OwnedQuerySet
from bots import codec
from bots.strategies import registry
from bots.strategies.base import Strategy
from bots.strategies.grid import GridConfig, GridState
from trading.ledger import Ledger


class BotStatus(models.TextChoices):
    DRAFT = "draft", "Draft"
    STARTING = "starting", "Starting"
    RUNNING = "running", "Running"
    STOPPING = "stopping", "Stopping"
    STOPPED = "stopped", "Stopped"
    ERROR = "error", "Error"


# Statuses the dispatcher ticks.
ACTIVE_STATUSES = (BotStatus.STARTING, BotStatus.RUNNING, BotStatus.STOPPING)

# Which status may follow which; every change goes through bots.actions.
TRANSITIONS: dict[str, tuple[str, ...]] = {
    BotStatus.DRAFT: (BotStatus.STARTING,),
    BotStatus.STARTING: (BotStatus.RUNNING, BotStatus.STOPPING, BotStatus.ERROR),
    BotStatus.RUNNING: (BotStatus.STOPPING, BotStatus.ERROR),
    BotStatus.STOPPING: (BotStatus.STOPPED, BotStatus.ERROR),
    BotStatus.STOPPED: (BotStatus.STARTING,),
    BotStatus.ERROR: (BotStatus.STARTING, BotStatus.RUNNING, BotStatus.STOPPING, BotStatus.STOPPED),
}


class Bot(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="bots")
    exchange_account = models.ForeignKey(
        "exchanges.ExchangeAccount", on_delete=models.PROTECT, related_name="bots"
    )
    name = models.CharField(max_length=80)
    symbol = models.CharField(max_length=32)
    # Which strategy runs it (bots.strategies.registry); `config` and `state` are that strategy's.
    strategy = models.CharField(max_length=32, choices=registry.choices(), default=registry.DEFAULT)
    config = models.JSONField()  # the strategy's config (GridConfig for "grid"), decimals as strings
    status = models.CharField(max_length=16, choices=BotStatus.choices, default=BotStatus.DRAFT)
    status_reason = models.TextField(blank=True)  # shown to the trader, e.g. why it is in error
    sell_base_on_stop = models.BooleanField(default=False)
    price_at_creation = models.DecimalField(max_digits=38, decimal_places=18, null=True, blank=True)
    state = models.JSONField(null=True, blank=True)  # GridState once the grid is laid out
    ledger = models.JSONField(null=True, blank=True)
    fills_cursor = models.DateTimeField(null=True, blank=True)
    # Each start is a new run with fresh books; the run number keeps client order ids unique.
    run = models.PositiveIntegerField(default=0)
    price_at_start = models.DecimalField(max_digits=38, decimal_places=18, null=True, blank=True)

    # Scheduling: the dispatcher claims due bots; a lease keeps one tick per bot at a time.
    tick_interval = models.PositiveIntegerField(default=5, help_text="Seconds between ticks.")
    next_tick_at = models.DateTimeField(null=True, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    lease_token = models.UUIDField(null=True, blank=True)

    # Failures and the automatic restart policy.
    consecutive_failures = models.PositiveIntegerField(default=0)
    auto_restart = models.BooleanField(default=True)
    restart_attempts = models.PositiveIntegerField(default=0)
    restart_at = models.DateTimeField(null=True, blank=True)  # set only for errors worth retrying

    started_at = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    last_snapshot_at = models.DateTimeField(null=True, blank=True)
    orders_checked_at = models.DateTimeField(null=True, blank=True)  # last sweep for orders ended elsewhere
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects: ClassVar[OwnedQuerySet[Bot]] = OwnedQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        indexes = (models.Index(fields=("status", "next_tick_at"), name="bot_due"),)

    def __str__(self) -> str:
        return self.name

    @property
    def runs(self) -> Strategy[Any, Any]:
        """The strategy object this bot runs (bots.strategies.registry)."""
        return registry.strategy_for(self)

    @property
    def strategy_config(self) -> Any:
        return self.runs.config_from_json(self.config)

    @property
    def grid_config(self) -> GridConfig:
        return codec.config_from_json(self.config)

    @property
    def grid_state(self) -> GridState | None:
        return codec.state_from_json(self.state) if self.state else None

    @property
    def books(self) -> Ledger | None:
        return codec.ledger_from_json(self.ledger) if self.ledger else None

    def can_become(self, status: str) -> bool:
        return status in TRANSITIONS.get(self.status, ())


class BotEventKind(models.TextChoices):
    STATUS = "status", "Status change"
    ORDER_PLACED = "order_placed", "Order placed"
    ORDER_REJECTED = "order_rejected", "Order rejected"
    ORDER_CANCELLED = "order_cancelled", "Order cancelled"
    ORDER_LOST = "order_lost", "Order never reached the exchange"
    FILL = "fill", "Fill"
    EXIT = "exit", "Take-profit or stop-loss"
    ERROR = "error", "Error"
    RESTART = "restart", "Restart"
    WARNING = "warning", "Warning"


class BotEvent(models.Model):
    bot = models.ForeignKey(Bot, on_delete=models.CASCADE, related_name="events")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    kind = models.CharField(max_length=20, choices=BotEventKind.choices)
    message = models.TextField()
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ("-created_at", "-id")
        indexes = (models.Index(fields=("bot", "-created_at"), name="event_by_bot"),)

    def __str__(self) -> str:
        return f"{self.get_kind_display()}: {self.message}"


# Webhook models live in their own package; importing them here registers them with this app.
from bots.backtests.models import Backtest, BacktestFill, Optimisation, OptimisationChunk  # noqa: E402, F401
from bots.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint  # noqa: E402, F401
