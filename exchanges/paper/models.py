"""Paper venue state. It lives in the database so it survives restarts and is
shared by every web, worker and simulator process."""

from __future__ import annotations

from decimal import Decimal

from django.db import models

from exchanges.base import InstrumentKind, OrderStatus, OrderType, Side, TimeInForce

# Bybit's default leverage for a USDT perpetual the account has not set one for.
DEFAULT_LEVERAGE = Decimal("10")


def amount_field(**kwargs: object) -> models.DecimalField:
    # Wide enough for quantity x price x fee rate without rounding.
    return models.DecimalField(max_digits=38, decimal_places=18, **kwargs)  # type: ignore[arg-type]


class PaperAccount(models.Model):
    label = models.CharField(max_length=120)
    # Set for accounts the Bybit simulator serves; None for in-process paper accounts.
    api_key = models.CharField(max_length=64, unique=True, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.label


class PaperBalance(models.Model):
    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="balances")
    asset = models.CharField(max_length=16)
    free = amount_field(default=Decimal(0))
    locked = amount_field(default=Decimal(0))

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("account", "asset"), name="paper_balance_one_per_asset"),
            models.CheckConstraint(
                condition=models.Q(free__gte=0, locked__gte=0), name="paper_balance_not_negative"
            ),
        )

    def __str__(self) -> str:
        return f"{self.asset} {self.free} free, {self.locked} locked"


class PaperOrder(models.Model):
    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="orders")
    exchange_order_id = models.CharField(max_length=32, unique=True)
    client_order_id = models.CharField(max_length=36)
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4, choices=[(s.value, s.value) for s in Side])
    order_type = models.CharField(max_length=8, choices=[(t.value, t.value) for t in OrderType])
    time_in_force = models.CharField(max_length=16, choices=[(t.value, t.value) for t in TimeInForce])
    price = amount_field(null=True)
    quantity = amount_field()
    filled_quantity = amount_field(default=Decimal(0))
    filled_value = amount_field(default=Decimal(0))  # sum of quantity x price over fills
    fee_paid = amount_field(default=Decimal(0))
    # What is still reserved for the unfilled rest: quote for buys, base for sells.
    locked_amount = amount_field(default=Decimal(0))
    status = models.CharField(max_length=20, choices=[(s.value, s.value) for s in OrderStatus])
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    category = models.CharField(
        max_length=8, choices=[(k.value, k.value) for k in InstrumentKind], default=InstrumentKind.SPOT.value
    )
    reduce_only = models.BooleanField(default=False)

    class Meta:
        constraints = (
            models.UniqueConstraint(
                fields=("account", "client_order_id"), name="paper_order_client_id_unique"
            ),
        )
        indexes = (
            models.Index(fields=("symbol", "status", "side", "price"), name="paper_order_matching"),
            models.Index(fields=("account", "symbol", "status"), name="paper_order_by_account"),
        )

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} @ {self.price or 'market'} ({self.status})"


class PaperFill(models.Model):
    trade_id = models.CharField(max_length=40, unique=True)
    order = models.ForeignKey(PaperOrder, on_delete=models.CASCADE, related_name="fills")
    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="fills")
    symbol = models.CharField(max_length=32)
    side = models.CharField(max_length=4)
    price = amount_field()
    quantity = amount_field()
    fee = amount_field()
    fee_asset = models.CharField(max_length=16)
    is_maker = models.BooleanField()
    time = models.DateTimeField()
    # A perpetual fill's part that closed the position held (Bybit's closedSize); 0 for spot.
    closed_quantity = amount_field(default=Decimal(0))

    class Meta:
        indexes = (models.Index(fields=("account", "symbol", "time"), name="paper_fill_since"),)

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.symbol} @ {self.price}"


class PaperMarket(models.Model):
    """The last price of one symbol. Its row lock serialises matching for the symbol."""

    symbol = models.CharField(max_length=32, unique=True)
    last_price = amount_field()
    feed_position = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.symbol} {self.last_price}"


class PaperTick(models.Model):
    """Every price the market moved to, for candles."""

    symbol = models.CharField(max_length=32)
    time = models.DateTimeField()
    price = amount_field()
    volume = amount_field(default=Decimal(0))
    # The feed point this price replays; None for a price set by hand. The market's first
    # tick says where its history (the feed's points before it) leads up to.
    position = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        indexes = (models.Index(fields=("symbol", "time"), name="paper_tick_by_time"),)

    def __str__(self) -> str:
        return f"{self.symbol} {self.price} at {self.time:%Y-%m-%d %H:%M:%S}"


class PaperPosition(models.Model):
    """One account's linear perpetual position in a symbol: one-way mode, isolated margin.

    The row outlives a flat position, since it also holds the symbol's leverage and mode.
    """

    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="positions")
    symbol = models.CharField(max_length=32)
    size = amount_field(default=Decimal(0))  # signed: negative is short
    entry_price = amount_field(default=Decimal(0))
    leverage = amount_field(default=DEFAULT_LEVERAGE)
    # USDT held for the position (initial margin + fee to close - funding paid + funding received);
    # it sits in the USDT balance's `locked`.
    position_margin = amount_field(default=Decimal(0))
    realised_pnl = amount_field(default=Decimal(0))  # cumulative, fees and funding included
    funding = amount_field(default=Decimal(0))  # cumulative funding received (negative: paid)
    hedge_mode = models.BooleanField(default=False)
    # The funding times up to this one are settled for the position held (set when it opens).
    funding_settled_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("account", "symbol"), name="paper_position_one_per_symbol"),
            models.CheckConstraint(condition=models.Q(position_margin__gte=0), name="paper_position_margin"),
        )

    def __str__(self) -> str:
        return f"{self.symbol} {self.size} @ {self.entry_price} x{self.leverage}"


class PaperFundingRate(models.Model):
    """A funding settlement of a paper perpetual (every 8 hours at 00:00, 08:00 and 16:00 UTC)."""

    symbol = models.CharField(max_length=32)
    time = models.DateTimeField()
    rate = amount_field()
    mark_price = amount_field()

    class Meta:
        constraints = (models.UniqueConstraint(fields=("symbol", "time"), name="paper_funding_once"),)

    def __str__(self) -> str:
        return f"{self.symbol} {self.rate} at {self.time:%Y-%m-%d %H:%M}"


class PaperFundingPayment(models.Model):
    """One account's funding at one settlement: what its position paid or received."""

    account = models.ForeignKey(PaperAccount, on_delete=models.CASCADE, related_name="funding_payments")
    symbol = models.CharField(max_length=32)
    time = models.DateTimeField()  # the funding time it settles, not when the venue got to it
    rate = amount_field()
    mark_price = amount_field()
    size = amount_field()  # the position settled, signed: negative is short
    amount = amount_field()  # received; negative: paid

    class Meta:
        constraints = (
            models.UniqueConstraint(fields=("account", "symbol", "time"), name="paper_funding_paid_once"),
        )

    def __str__(self) -> str:
        return f"{self.symbol} {self.amount} at {self.time:%Y-%m-%d %H:%M}"
