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
  is the root mean square of the negative returns over all days.
- A ratio is None, with the reason in `notes`, where it would mean nothing: fewer than two
  day-on-day returns (a window under three days), flat equity, a deviation under
  MIN_DAILY_DEVIATION (one tiny losing day would otherwise make Sortino a million), fewer than
  MIN_LOSING_DAYS losing days for Sortino, a max
  drawdown under MIN_DRAWDOWN for Calmar, no round trip or no losing one for the profit factor.
- Calmar: APR over the max drawdown fraction. Profit factor: the ledger's gross profit of
  winning round trips over the gross loss of losing ones.
- Time in range: the share of candles whose close lies within the grid's range.
- Buy and hold: the price return from the first open to the last close, without fees.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Protocol

from bots.backtest.exact import EquityPoint


class RoundTrips(Protocol):
    @property
    def round_trips(self) -> int: ...

    @property
    def profit_factor(self) -> Decimal | None: ...


class Result(Protocol):
    """What the figures read of a run: exact mode's (`exact.Result`) or a futures grid's
    (`perpetual.Result`)."""

    @property
    def investment(self) -> Decimal: ...
    @property
    def start(self) -> datetime: ...
    @property
    def end(self) -> datetime: ...
    @property
    def first_price(self) -> Decimal: ...
    @property
    def last_price(self) -> Decimal: ...
    @property
    def equity_curve(self) -> Sequence[EquityPoint]: ...
    @property
    def closes_in_range(self) -> int: ...
    @property
    def fills(self) -> Sequence[object]: ...
    @property
    def summary(self) -> RoundTrips: ...
    @property
    def grid_profit(self) -> Decimal: ...
    @property
    def unrealized(self) -> Decimal: ...
    @property
    def fees(self) -> Decimal: ...
    @property
    def total_pnl(self) -> Decimal: ...


YEAR = timedelta(days=365)
DAYS_PER_YEAR = Decimal(365)
# Below a hundredth of a percent a day, a deviation is rounding noise rather than risk: dividing
# by it gives figures in the thousands that no trader could act on.
MIN_DAILY_DEVIATION = Decimal("0.0001")
MIN_LOSING_DAYS = 3  # downside risk from one or two days is an anecdote, not a deviation
MIN_DRAWDOWN = Decimal("0.0001")  # of the peak: Calmar over a smaller fall is as meaningless

# Why a ratio is undefined, in the trader's words (shown under the "—").
TOO_SHORT = "Needs at least three days of data (two day-on-day returns)."
FLAT = "Equity barely moved from day to day: the ratio would mean nothing."
NO_DOWNSIDE = "Too few or too small losing days to measure downside risk."
NO_DRAWDOWN = "Equity never fell meaningfully below a peak."
NO_SPAN = "The window is too short to annualise."
NO_TRADES = "No round trip was completed."
NO_LOSSES = "No round trip lost money, so there is no loss to divide by."


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
    notes: dict[str, str] = field(default_factory=dict)  # why a None ratio is undefined, by name


def metrics(result: Result) -> Metrics:
    investment = result.investment
    total_return = result.total_pnl / investment
    apr = annualised(total_return, result.end - result.start)
    opening = EquityPoint(result.start, result.first_price, investment, Decimal(0))
    drawdown = max_drawdown([opening, *result.equity_curve])
    floating = max(Decimal(0), -min((point.unrealized for point in result.equity_curve), default=Decimal(0)))
    returns = daily_returns(result.equity_curve)
    summary = result.summary
    figures = {
        "sharpe": sharpe(returns),
        "sortino": sortino(returns),
        "calmar": calmar(apr, drawdown),
        "profit_factor": summary.profit_factor if summary.round_trips else None,
    }
    notes = {
        "sharpe": sharpe_note(returns),
        "sortino": sortino_note(returns),
        "calmar": calmar_note(apr, drawdown),
        "profit_factor": NO_TRADES if not summary.round_trips else NO_LOSSES,
    }
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
        sharpe=figures["sharpe"],
        sortino=figures["sortino"],
        calmar=figures["calmar"],
        profit_factor=figures["profit_factor"],
        round_trips=result.summary.round_trips,
        fills=len(result.fills),
        time_in_range=Decimal(result.closes_in_range) / len(result.equity_curve),
        buy_and_hold_return=(result.last_price - result.first_price) / result.first_price,
        notes={name: notes[name] for name, value in figures.items() if value is None},
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


def _mean(returns: Sequence[Decimal]) -> Decimal:
    return sum(returns, Decimal(0)) / len(returns)


def _deviation(returns: Sequence[Decimal]) -> Decimal:
    mean = _mean(returns)
    return (sum(((r - mean) ** 2 for r in returns), Decimal(0)) / (len(returns) - 1)).sqrt()


def _downside(returns: Sequence[Decimal]) -> Decimal:
    return (sum((r * r for r in returns if r < 0), Decimal(0)) / len(returns)).sqrt()


def sharpe(returns: Sequence[Decimal]) -> Decimal | None:
    if sharpe_note(returns):
        return None
    return _mean(returns) / _deviation(returns) * DAYS_PER_YEAR.sqrt()


def sharpe_note(returns: Sequence[Decimal]) -> str:
    """Why Sharpe is undefined for these returns; empty when it is defined."""
    if len(returns) < 2:
        return TOO_SHORT
    return FLAT if _deviation(returns) < MIN_DAILY_DEVIATION else ""


def sortino(returns: Sequence[Decimal]) -> Decimal | None:
    if sortino_note(returns):
        return None
    return _mean(returns) / _downside(returns) * DAYS_PER_YEAR.sqrt()


def sortino_note(returns: Sequence[Decimal]) -> str:
    if len(returns) < 2:
        return TOO_SHORT
    losing_days = sum(1 for r in returns if r < 0)
    if losing_days < MIN_LOSING_DAYS or _downside(returns) < MIN_DAILY_DEVIATION:
        return NO_DOWNSIDE
    return ""


def calmar(apr: Decimal | None, drawdown: Drawdown) -> Decimal | None:
    if calmar_note(apr, drawdown) or apr is None:
        return None
    return apr / drawdown.fraction


def calmar_note(apr: Decimal | None, drawdown: Drawdown) -> str:
    if apr is None:
        return NO_SPAN
    return NO_DRAWDOWN if drawdown.fraction < MIN_DRAWDOWN else ""
