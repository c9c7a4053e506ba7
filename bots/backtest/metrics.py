"""The figures a trader judges a backtest by, from an exact-mode result. Decimal throughout.

- Returns are against the investment. APR is the total return scaled from the backtest's span
  (first open to last close) to 365 days, simple, not compounded.
- Max drawdown: the deepest fall of equity (per candle, at its close) from an earlier peak, as a
  value and as a fraction of that peak, with the peak's and the trough's candle times. The
  investment at the first open is the first peak: a fall from the start counts.
- Max floating drawdown: the most negative unrealised PnL at any close, and as a fraction of the
  investment.
- Sharpe and Sortino are daily: equity at each UTC day's last close, day-on-day returns, no
  risk-free rate, annualised by sqrt(365) (crypto trades every day). Sortino's downside deviation
  is the root mean square of the negative returns over all days. None when undefined.
- Calmar: APR over the max drawdown fraction. Profit factor: the ledger's gross profit of
  winning round trips over the gross loss of losing ones (None until one loses).
- Time in range: the share of candles whose close lies within the grid's range.
- Buy and hold: the price return from the first open to the last close, without fees.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from bots.backtest.exact import EquityPoint, Result

YEAR = timedelta(days=365)
DAYS_PER_YEAR = Decimal(365)


@dataclass(frozen=True)
class Drawdown:
    value: Decimal  # positive: how far equity fell
    fraction: Decimal  # of the peak
    start: datetime | None  # the peak's candle
    end: datetime | None  # the trough's candle


@dataclass(frozen=True)
class Metrics:
    total_return: Decimal
    apr: Decimal | None
    grid_profit: Decimal
    unrealized: Decimal
    fees: Decimal
    total_pnl: Decimal
    max_drawdown: Drawdown
    max_floating_drawdown: Decimal  # positive: the deepest unrealised loss
    max_floating_drawdown_fraction: Decimal
    sharpe: Decimal | None
    sortino: Decimal | None
    calmar: Decimal | None
    profit_factor: Decimal | None
    round_trips: int
    fills: int
    time_in_range: Decimal
    buy_and_hold_return: Decimal


def metrics(result: Result) -> Metrics:
    investment = result.investment
    total_return = result.total_pnl / investment
    apr = annualised(total_return, result.end - result.start)
    opening = EquityPoint(result.start, result.first_price, investment, Decimal(0))
    drawdown = max_drawdown([opening, *result.equity_curve])
    floating = max(Decimal(0), -min((point.unrealized for point in result.equity_curve), default=Decimal(0)))
    returns = daily_returns(result.equity_curve)
    return Metrics(
        total_return=total_return,
        apr=apr,
        grid_profit=result.grid_profit,
        unrealized=result.unrealized,
        fees=result.fees,
        total_pnl=result.total_pnl,
        max_drawdown=drawdown,
        max_floating_drawdown=floating,
        max_floating_drawdown_fraction=floating / investment,
        sharpe=sharpe(returns),
        sortino=sortino(returns),
        calmar=apr / drawdown.fraction if apr is not None and drawdown.fraction else None,
        profit_factor=result.summary.profit_factor,
        round_trips=result.summary.round_trips,
        fills=len(result.fills),
        time_in_range=Decimal(result.closes_in_range) / len(result.equity_curve),
        buy_and_hold_return=(result.last_price - result.first_price) / result.first_price,
    )


def annualised(total_return: Decimal, span: timedelta) -> Decimal | None:
    if span <= timedelta(0):
        return None
    return total_return * Decimal(YEAR.total_seconds()) / Decimal(span.total_seconds())


def max_drawdown(curve: Sequence[EquityPoint]) -> Drawdown:
    worst = Drawdown(Decimal(0), Decimal(0), None, None)
    if not curve:
        return worst
    peak = curve[0]
    for point in curve:
        if point.equity > peak.equity:
            peak = point
            continue
        fall = peak.equity - point.equity
        if fall > worst.value:
            fraction = fall / peak.equity if peak.equity > 0 else Decimal(0)
            worst = Drawdown(fall, fraction, peak.time, point.time)
    return worst


def daily_returns(curve: Sequence[EquityPoint]) -> list[Decimal]:
    """Day-on-day returns of the equity at each UTC day's last close."""
    closes: dict[object, Decimal] = {}
    for point in curve:
        closes[point.time.date()] = point.equity
    values = list(closes.values())
    return [(today - yesterday) / yesterday for yesterday, today in itertools.pairwise(values)]


def sharpe(returns: Sequence[Decimal]) -> Decimal | None:
    if len(returns) < 2:
        return None
    mean = sum(returns, Decimal(0)) / len(returns)
    variance = sum(((r - mean) ** 2 for r in returns), Decimal(0)) / (len(returns) - 1)
    if not variance:
        return None
    return mean / variance.sqrt() * DAYS_PER_YEAR.sqrt()


def sortino(returns: Sequence[Decimal]) -> Decimal | None:
    if len(returns) < 2:
        return None
    mean = sum(returns, Decimal(0)) / len(returns)
    downside = sum((r * r for r in returns if r < 0), Decimal(0)) / len(returns)
    if not downside:
        return None
    return mean / downside.sqrt() * DAYS_PER_YEAR.sqrt()
