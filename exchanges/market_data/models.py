"""The candle store: one row per candle of a venue's series."""

from __future__ import annotations

from django.db import models

# Room for the smallest coins' prices and the largest volumes, without rounding.
DIGITS, PLACES = 36, 18


class Candle(models.Model):
    """A closed candle as the venue published it. Prices and volume are decimal strings
    turned into `Decimal`, never floats."""

    venue = models.CharField(max_length=32)
    symbol = models.CharField(max_length=32)
    interval = models.CharField(max_length=4)
    open_time = models.DateTimeField()
    open = models.DecimalField(max_digits=DIGITS, decimal_places=PLACES)
    high = models.DecimalField(max_digits=DIGITS, decimal_places=PLACES)
    low = models.DecimalField(max_digits=DIGITS, decimal_places=PLACES)
    close = models.DecimalField(max_digits=DIGITS, decimal_places=PLACES)
    volume = models.DecimalField(max_digits=DIGITS, decimal_places=PLACES)

    class Meta:
        app_label = "exchanges"
        # The unique index is also the one range reads use: the series, then its open times in order.
        constraints = [
            models.UniqueConstraint(
                fields=["venue", "symbol", "interval", "open_time"], name="candle_unique_per_series_and_time"
            )
        ]

    def __str__(self) -> str:
        return f"{self.venue} {self.symbol} {self.interval} {self.open_time:%Y-%m-%d %H:%M}"
