from __future__ import annotations

from decimal import Decimal

from bots.strategies.grid import GridConfig


def grid_config(**overrides: object) -> GridConfig:
    """The Bybit-style worked example: 45,000-65,000 in 5 grids with 1,000 USDT."""
    values: dict[str, object] = {
        "symbol": "BTCUSDT",
        "lower_price": Decimal("45000"),
        "upper_price": Decimal("65000"),
        "grid_count": 5,
        "investment": Decimal("1000"),
    }
    values.update(overrides)
    return GridConfig(**values)  # type: ignore[arg-type]
