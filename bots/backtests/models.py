"""A backtest a trader asked for, and the fills of its run."""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models

from accounts.models import OwnedQuerySet


class BacktestStatus(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Cancelled"


# Statuses a backtest can still leave on its own; cancelling is possible only from these.
UNFINISHED = (BacktestStatus.QUEUED, BacktestStatus.RUNNING)


class Backtest(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="backtests")
    strategy = models.CharField(max_length=32, default="grid")
    config = models.JSONField()  # GridConfig as bots.codec stores a bot's, decimals as strings
    symbol = models.CharField(max_length=32)
    interval = models.CharField(max_length=4)
    start = models.DateTimeField()  # the first candle's open time, included
    end = models.DateTimeField()  # excluded: candles opening before it
    venue = models.CharField(max_length=32)  # the candle store series it runs over
    status = models.CharField(max_length=16, choices=BacktestStatus.choices, default=BacktestStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    error = models.TextField(blank=True)  # why it failed, in the trader's words
    candles = models.PositiveIntegerField(default=0)  # how many it runs over, known once they are read
    candles_done = models.PositiveIntegerField(default=0)  # simulated so far, for the progress bar
    metrics = models.JSONField(null=True, blank=True)  # bots.backtest.metrics, decimals as strings
    equity = models.JSONField(null=True, blank=True)  # [{time, price, equity, unrealized}], thinned
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    # Moved on with each progress step: a running row whose worker died goes stale and is re-run.
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[OwnedQuerySet[Backtest]] = OwnedQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        app_label = "bots"
        indexes = (models.Index(fields=("owner", "-created_at"), name="backtest_owner_newest"),)

    def __str__(self) -> str:
        return f"Backtest {self.pk} {self.symbol} {self.interval} ({self.status})"


class BacktestFill(models.Model):
    """One simulated fill; rows rather than JSON so a long run's fills page like a bot's."""

    backtest = models.ForeignKey(Backtest, on_delete=models.CASCADE, related_name="fills")
    time = models.DateTimeField()  # the open time of the candle it happened in
    leg = models.PositiveSmallIntegerField()  # 0 the open, 1 and 2 the extremes, 3 the close
    side = models.CharField(max_length=4)
    price = models.DecimalField(max_digits=38, decimal_places=18)
    quantity = models.DecimalField(max_digits=38, decimal_places=18)
    fee = models.DecimalField(max_digits=38, decimal_places=18)
    fee_asset = models.CharField(max_length=16)
    is_maker = models.BooleanField()
    interval = models.IntegerField(null=True, blank=True)  # the grid interval; null for the start trade
    cycle = models.PositiveIntegerField(default=0)

    class Meta:
        app_label = "bots"

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} @ {self.price}"


class Optimisation(models.Model):
    """A parameter search over one candle window (bots.backtest.optimise), run in chunks on workers."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="optimisations"
    )
    search = models.JSONField()  # the base config, bounds, method and objective, decimals as strings
    symbol = models.CharField(max_length=32)
    interval = models.CharField(max_length=4)
    start = models.DateTimeField()
    end = models.DateTimeField()
    venue = models.CharField(max_length=32)
    status = models.CharField(max_length=16, choices=BacktestStatus.choices, default=BacktestStatus.QUEUED)
    progress = models.PositiveSmallIntegerField(default=0)  # percent
    error = models.TextField(blank=True)
    candidates = models.PositiveIntegerField(default=0)  # the search's size
    chunks = models.PositiveIntegerField(default=0)
    chunks_done = models.PositiveIntegerField(default=0)
    evaluated = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0)  # refused by the grid's validation or not runnable
    candles = models.PositiveIntegerField(default=0)
    split_at = models.DateTimeField(null=True, blank=True)  # the report part's first candle
    results = models.JSONField(null=True, blank=True)  # the ranked top and the winner's exact figures
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    objects: ClassVar[OwnedQuerySet[Optimisation]] = OwnedQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        app_label = "bots"
        indexes = (models.Index(fields=("owner", "-created_at"), name="optimisation_owner_newest"),)

    def __str__(self) -> str:
        return f"Optimisation {self.pk} {self.symbol} {self.interval} ({self.status})"


class OptimisationChunk(models.Model):
    """One worker's share of the candidates and, once scored, their figures on the training part."""

    optimisation = models.ForeignKey(Optimisation, on_delete=models.CASCADE, related_name="chunk_rows")
    index = models.PositiveIntegerField()
    first = models.PositiveIntegerField()  # candidate indices [first, end)
    end = models.PositiveIntegerField()
    done = models.BooleanField(default=False)
    scores = models.JSONField(null=True, blank=True)  # [Score.to_json()]
    skipped = models.PositiveIntegerField(default=0)

    class Meta:
        app_label = "bots"
        constraints = (
            models.UniqueConstraint(fields=("optimisation", "index"), name="optimisation_chunk_once"),
        )

    def __str__(self) -> str:
        return f"Chunk {self.index} of optimisation {self.optimisation_id}"
