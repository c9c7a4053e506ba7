"""Margin arithmetic of a USDT-margined linear perpetual, isolated margin, as Bybit publishes it.

Pure Python and `Decimal` only, so the paper venue, the futures grid preview and any backtest compute
the same numbers. Every cut of precision names its direction, and always errs on the trader's safe
side: margin to reserve rounds up, a long's liquidation price rounds up (it triggers no later than
exact arithmetic would), a short's rounds down, funding paid rounds up and funding received down.

Sources (Bybit help centre, USDT contracts):

- "Initial Margin (USDT Contract)": initial margin = position value / leverage.
- "Maintenance Margin (USDT Contract)" and the risk-limit tiers of `/v5/market/risk-limit`:
  maintenance margin = position value x MMR of the tier the value falls in - that tier's `mmDeduction`.
- "Bankruptcy Price (USDT Contract)", isolated margin: long = entry x (1 - IMR), short = entry x (1 + IMR),
  IMR = 1 / leverage; worked example: 1 BTC long at 10,000 USDT, 50x -> 9,800.
- "Liquidation Price (USDT Contract)" / "Liquidation Price Calculation under Isolated Mode (Unified
  Trading Account)": long = entry - (IM - MM) / size - extra margin / size, short = entry + (IM - MM) / size
  + extra margin / size. Worked examples: 1 BTC long at 10,000, 50x, MMR 0.5% -> 9,850; 1 BTC short at
  8,000, 40x -> 8,160; 1 BTC long at 20,000, 50x (IM 400, MM 100) -> 19,700; the same short with 3,000 USDT
  added -> 23,300.
- "Order Cost (USDT Contract)": the fee to close = size x bankruptcy price x taker fee rate, reserved in the
  position margin. Bybit's UTA page adds that estimated fee to both the initial and the maintenance margin,
  so it cancels out of the liquidation price of a freshly opened position; it matters once the margin is
  given (after funding or added margin), which is what `liquidation_price(margin=...)` handles.
- "Funding Rate" (perpetual contract mechanism): funding rate = premium index + clamp(interest rate -
  premium index, -0.05%, +0.05%), interest 0.01% per 8 hours; funding fee = position value x funding rate,
  longs pay shorts when the rate is positive.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from exchanges.base import PositionSide

# Eight places: the precision of USDT amounts on Bybit's wallet and position endpoints.
MONEY_PLACES = Decimal("0.00000001")
DEFAULT_INTEREST_RATE = Decimal("0.0001")  # per 8-hour funding interval
DEFAULT_FUNDING_CLAMP = Decimal("0.0005")

__all__ = ["PositionSide"]  # re-exported: callers of the arithmetic need the side too


class RiskLimitExceeded(ValueError):
    """The position value is above the highest risk-limit tier shipped for the symbol."""


@dataclass(frozen=True)
class RiskTier:
    """One row of Bybit's `/v5/market/risk-limit`: it covers position values up to `limit` inclusive."""

    limit: Decimal  # riskLimitValue, USDT
    maintenance_rate: Decimal  # maintenanceMargin
    initial_rate: Decimal  # initialMargin
    deduction: Decimal  # mmDeduction, USDT ("" on the lowest tier means 0)
    max_leverage: Decimal


# BTCUSDT: the first three tiers of Bybit's answer to GET /v5/market/risk-limit?category=linear&symbol=BTCUSDT
# of 2026-09-25 (auto risk limit). Each deduction is what keeps the maintenance margin continuous at the tier
# boundary: 300,000 x (0.005 - 0.0033) = 510; 510 + 2,000,000 x (0.0056 - 0.005) = 1,710.
BTCUSDT_TIERS: tuple[RiskTier, ...] = (
    RiskTier(Decimal("300000"), Decimal("0.0033"), Decimal("0.0066"), Decimal("0"), Decimal("150")),
    RiskTier(Decimal("2000000"), Decimal("0.005"), Decimal("0.01"), Decimal("510"), Decimal("100")),
    RiskTier(Decimal("2600000"), Decimal("0.0056"), Decimal("0.0111"), Decimal("1710"), Decimal("90")),
)

# Only tables recorded from Bybit itself are shipped; any other symbol's tiers come from the venue's
# /v5/market/risk-limit answer through `tiers_from_risk_limit`.
RISK_TIERS: dict[str, tuple[RiskTier, ...]] = {"BTCUSDT": BTCUSDT_TIERS}


def tiers_from_risk_limit(rows: Sequence[dict[str, object]]) -> tuple[RiskTier, ...]:
    """Tiers from the `list` of a `/v5/market/risk-limit` answer, sorted by their limit."""
    tiers = [
        RiskTier(
            limit=Decimal(str(row["riskLimitValue"])),
            maintenance_rate=Decimal(str(row["maintenanceMargin"])),
            initial_rate=Decimal(str(row["initialMargin"])),
            deduction=Decimal(str(row.get("mmDeduction") or "0")),
            max_leverage=Decimal(str(row["maxLeverage"])),
        )
        for row in rows
    ]
    return tuple(sorted(tiers, key=lambda tier: tier.limit))


def tier_for(value: Decimal, tiers: Sequence[RiskTier]) -> RiskTier:
    """The first tier whose limit is at or above `value`: a value on a boundary stays in the lower tier."""
    for tier in tiers:
        if value <= tier.limit:
            return tier
    highest = tiers[-1].limit
    raise RiskLimitExceeded(f"A position worth {value} USDT is above the highest risk limit ({highest}).")


def position_value(entry: Decimal, size: Decimal) -> Decimal:
    return entry * size


def initial_margin(value: Decimal, leverage: Decimal) -> Decimal:
    """Position value / leverage, rounded up to the cent's millionth: the margin to reserve is never short."""
    if leverage <= 0:
        raise ValueError("Leverage must be positive.")
    return (value / leverage).quantize(MONEY_PLACES, rounding=ROUND_UP)


def maintenance_margin(value: Decimal, tiers: Sequence[RiskTier]) -> Decimal:
    """Position value x the tier's MMR - the tier's deduction, rounded up."""
    tier = tier_for(value, tiers)
    return (value * tier.maintenance_rate - tier.deduction).quantize(MONEY_PLACES, rounding=ROUND_UP)


def _sign(side: PositionSide) -> Decimal:
    return Decimal(1) if side is PositionSide.LONG else Decimal(-1)


def _price_rounding(side: PositionSide) -> str:
    # A long's liquidation/bankruptcy price rounded up (towards the entry) is hit no later than the exact one.
    return ROUND_UP if side is PositionSide.LONG else ROUND_DOWN


def bankruptcy_price(
    side: PositionSide,
    entry: Decimal,
    size: Decimal,
    *,
    leverage: Decimal | None = None,
    margin: Decimal | None = None,
    fee_rate: Decimal = Decimal(0),
) -> Decimal:
    """The price at which the position's margin is exactly used up (0% margin).

    With `leverage`: Bybit's entry x (1 -/+ 1/leverage). With `margin` (the position margin as Bybit's
    `positionBalance` reports it: initial margin + the fee to close reserved at `fee_rate` + added margin -
    funding paid), the fee reserve is set aside first, which solves to
    long (entry - margin/size) / (1 - fee), short (entry + margin/size) / (1 + fee).
    """
    if (leverage is None) == (margin is None):
        raise ValueError("Give either the leverage or the position margin, not both.")
    if size <= 0:
        raise ValueError("Size must be positive.")
    sign = _sign(side)
    if leverage is not None:
        exact = entry * (1 - sign / leverage)
    else:
        assert margin is not None
        exact = (entry - sign * margin / size) / (1 - sign * fee_rate)
    return exact.quantize(MONEY_PLACES, rounding=_price_rounding(side))


def fee_to_close(
    side: PositionSide, entry: Decimal, size: Decimal, leverage: Decimal, fee_rate: Decimal
) -> Decimal:
    """Bybit's estimated fee to close: size x bankruptcy price x taker fee rate, rounded up."""
    bust = bankruptcy_price(side, entry, size, leverage=leverage)
    return (size * bust * fee_rate).quantize(MONEY_PLACES, rounding=ROUND_UP)


def position_margin(
    side: PositionSide, entry: Decimal, size: Decimal, leverage: Decimal, fee_rate: Decimal = Decimal(0)
) -> Decimal:
    """What opening the position takes from the balance: initial margin + the fee to close."""
    value = position_value(entry, size)
    return initial_margin(value, leverage) + fee_to_close(side, entry, size, leverage, fee_rate)


def liquidation_price(
    side: PositionSide,
    entry: Decimal,
    size: Decimal,
    tiers: Sequence[RiskTier],
    *,
    leverage: Decimal | None = None,
    margin: Decimal | None = None,
    fee_rate: Decimal = Decimal(0),
) -> Decimal:
    """Isolated margin: the mark price at which the margin left equals the maintenance margin.

    Bybit: long = entry - (margin - MM) / size, short = entry + (margin - MM) / size, where the margin is
    the initial margin plus any added margin, and MM = value x MMR - deduction of the tier of the value at
    entry. With `margin` given (Bybit's `positionBalance`, which holds the fee to close too) the fee reserve
    is set aside, as Bybit adds the same estimated fee to the maintenance margin. Never below zero.
    """
    if size <= 0:
        raise ValueError("Size must be positive.")
    value = position_value(entry, size)
    tier = tier_for(value, tiers)
    maintenance = value * tier.maintenance_rate - tier.deduction
    if leverage is not None and margin is None:
        free = value / leverage - maintenance
    elif margin is not None and leverage is None:
        bust = bankruptcy_price(side, entry, size, margin=margin, fee_rate=fee_rate)
        free = margin - size * bust * fee_rate - maintenance
    else:
        raise ValueError("Give either the leverage or the position margin, not both.")
    exact = entry - _sign(side) * free / size
    return max(exact, Decimal(0)).quantize(MONEY_PLACES, rounding=_price_rounding(side))


def funding_rate(
    premium_index: Decimal,
    interest: Decimal = DEFAULT_INTEREST_RATE,
    clamp: Decimal = DEFAULT_FUNDING_CLAMP,
    cap: Decimal | None = None,
) -> Decimal:
    """premium + clamp(interest - premium, -clamp, +clamp), then within +-cap (the instrument's
    upperFundingRate/lowerFundingRate, e.g. 0.00375 for BTCUSDT) when one is given."""
    rate = premium_index + min(max(interest - premium_index, -clamp), clamp)
    if cap is not None:
        rate = min(max(rate, -cap), cap)
    return rate


def funding_payment(value: Decimal, rate: Decimal, side: PositionSide) -> Decimal:
    """What the holder of the position receives at a funding time (negative: what it pays).

    Funding fee = position value (size x mark price) x rate; longs pay shorts when the rate is positive.
    A payment rounds up in size, a receipt down.
    """
    flow = -_sign(side) * value * rate
    return flow.quantize(MONEY_PLACES, rounding=ROUND_UP if flow < 0 else ROUND_DOWN)


def unrealised_pnl(side: PositionSide, entry: Decimal, size: Decimal, mark: Decimal) -> Decimal:
    """Linear contract PnL: (mark - entry) x size for a long, the opposite for a short."""
    return _sign(side) * (mark - entry) * size


FUNDING_INTERVAL_HOURS = 8  # Bybit settles USDT perpetuals' funding at 00:00, 08:00 and 16:00 UTC


def last_funding_time(now: datetime) -> datetime:
    """The latest funding time at or before `now`."""
    moment = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    return moment.replace(hour=moment.hour - moment.hour % FUNDING_INTERVAL_HOURS)
