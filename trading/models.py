"""Orders and fills as Gridwise knows them, and the equity history of each bot."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from exchanges.base import OrderType, Side
from trading.templatetags.money import plain


def amount_field(**kwargs: object) -> models.DecimalField:
    return models.DecimalField(max_digits=38, decimal_places=18, **kwargs)  # type: ignore[arg-type]


class OrderStatus(models.TextChoices):
    PENDING = "pending", "Pending"  # committed; sent at most once; outcome not yet known
    OPEN = "open", "Open"
    PARTIALLY_FILLED = "partially_filled", "Partially filled"
    FILLED = "filled", "Filled"
    CANCELLED = "cancelled", "Cancelled"
    REJECTED = "rejected", "Rejected"
    LOST = "lost", "Never reached the exchange"


LIVE_STATUSES = (OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)


class OrderPurpose(models.TextChoices):
    GRID = "grid", "Grid"
    START = "start", "Start trade"
    EXIT = "exit", "Exit trade"


class Order(models.Model):
    bot = models.ForeignKey("bots.Bot", on_delete=models.CASCADE, related_name="orders")
    client_order_id = models.CharField(max_length=36, unique=True)
    exchange_order_id = models.CharField(max_length=64, blank=True)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=[(s.value, s.value.title()) for s in Side])
    order_type = models.CharField(max_length=8, choices=[(t.value, t.value.title()) for t in OrderType])
    price = amount_field(null=True, blank=True)
    quantity = amount_field()
    filled_quantity = amount_field(default=Decimal(0))
    average_price = amount_field(null=True, blank=True)
    status = models.CharField(max_length=20, choices=OrderStatus.choices, default=OrderStatus.PENDING)
    purpose = models.CharField(max_length=8, choices=OrderPurpose.choices, default=OrderPurpose.GRID)
    interval = models.IntegerField(null=True, blank=True)
    cycle = models.PositiveIntegerField(default=0)
    attempt = models.PositiveIntegerField(default=0)  # > 0: re-placed after the previous try was lost
    # A perpetual's order that may only shrink the position (a grid level's close, a stop's exit).
    reduce_only = models.BooleanField(default=False)
    reject_reason = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)  # set before the one send
    # A stop asked the venue to cancel it and got no answer: it may still be open there until
    # bots.tasks.settle_unconfirmed_cancels hears from the venue.
    cancel_unconfirmed_since = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a stop asked the venue to cancel it without an answer: it may still be open there.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = (
            models.Index(fields=("bot", "status"), name="order_by_bot_status"),
            models.Index(
                fields=("cancel_unconfirmed_since",),
                condition=models.Q(cancel_unconfirmed_since__isnull=False),
                name="order_cancel_unconfirmed",
            ),
        )

    def __str__(self) -> str:
        return (
            f"{self.client_order_id} {self.side} {plain(self.quantity)} @ {plain(self.price) or 'market'} "
            f"({self.status})"
        )

    @property
    def is_live(self) -> bool:
        return self.status in LIVE_STATUSES


class Fill(models.Model):
    bot = models.ForeignKey("bots.Bot", on_delete=models.CASCADE, related_name="fills")
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fills")
    exchange_account = models.ForeignKey(
        "exchanges.ExchangeAccount", on_delete=models.CASCADE, related_name="+"
    )
    trade_id = models.CharField(max_length=64)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=[(s.value, s.value.title()) for s in Side])
    price = amount_field()
    quantity = amount_field()
    fee = amount_field()
    fee_asset = models.CharField(max_length=16)
    is_maker = models.BooleanField(default=False)
    time = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = (
            # A venue's trade id is recorded once per account, whatever retries or crashes happen.
            models.UniqueConstraint(fields=("exchange_account", "trade_id"), name="fill_once_per_trade"),
        )
        indexes = (
            # Trade history pages by keyset (time, id), per bot; across a trader's bots too
            # (trading/history.py merges each bot's first rows).
            models.Index(fields=("bot", "time", "id"), name="fill_by_bot_time_id"),
        )

    def __str__(self) -> str:
        return f"{self.side} {plain(self.quantity)} {self.symbol} @ {plain(self.price)}"

    @property
    def quote_amount(self) -> Decimal:
        return self.price * self.quantity


class EquitySnapshot(models.Model):
    bot = models.ForeignKey("bots.Bot", on_delete=models.CASCADE, related_name="equity_snapshots")
    time = models.DateTimeField()
    price = amount_field()
    equity = amount_field()
    grid_profit = amount_field()
    unrealized_pnl = amount_field()

    class Meta:
        indexes = (
            # Covers the dashboard's chart: one index-only probe per bot and point in time.
            models.Index(fields=("bot", "time"), include=("equity",), name="equity_by_bot_time_cover"),
        )

    def __str__(self) -> str:
        return f"{self.time:%Y-%m-%d %H:%M} {plain(self.equity)}"
