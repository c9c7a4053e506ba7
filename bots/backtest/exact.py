"""Exact mode: one grid bot over a candle series, fill by fill, on the live strategy's code path.

What runs, in the live engine's order (bots/engine.py):
- Start, at the first candle whose open reaches the trigger price (`grid.trigger_reached`),
  at that open: `grid.validate`, `grid.quantity_for_investment` and `grid.size_grid` size the
  start trade, which fills at market (the open plus slippage, taker). The books open as the
  engine opens them (a reverse grid commits its base at the start price).
- `grid.initial_state` lays the grid out at that open; the base of its sells is allocated
  from the start lot to each interval, and every intent rests on the simulated venue.
- Each fill is booked in the ledger (trading/ledger.py) and passed to `grid.apply_fills` with
  the base not yet offered; the counter-orders it plans rest at once, from the fill's price on.

The money identity is the live ledger's own: grid profit + unrealised PnL - fees not already
netted == equity - investment, exactly. Spot fees are taken in the traded assets, so they are
netted in the first two; `fees` reports every fee valued in quote at the last close.

The simulated account holds the investment plus the room the live funds check demands for the
start trade's slippage (`grid.START_SLIPPAGE_ALLOWANCE`); that room is off the books, so the
equity curve is the account's value minus it.

Exits (take-profit, stop-loss, maximum drawdown) are not simulated yet: a config with one is
refused rather than run without it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal

from bots.backtest.venue import ZERO, Fees, SimFill, SimVenue, check_candle
from bots.strategies import grid
from exchanges.base import Candle, Instrument, Side
from trading.ledger import START_LOT, Ledger, LedgerFill, LedgerSummary


@dataclass(frozen=True)
class Placement:
    """A decision: an order the strategy put on the book, and when."""

    time: datetime
    leg: int
    side: Side
    price: Decimal
    quantity: Decimal
    interval: int
    cycle: int


@dataclass(frozen=True)
class EquityPoint:
    time: datetime  # the candle's open time; the values are at its close
    price: Decimal
    equity: Decimal
    unrealized: Decimal


@dataclass(frozen=True)
class Result:
    config: grid.GridConfig
    instrument: Instrument
    fees_rates: Fees
    investment: Decimal
    start: datetime  # the first candle's open
    end: datetime  # the last candle's close
    started_at: datetime | None  # the open the grid started at; None if the trigger never came
    start_price: Decimal | None
    first_price: Decimal  # the first candle's open
    last_price: Decimal  # the last candle's close
    fills: tuple[SimFill, ...]
    placements: tuple[Placement, ...]
    equity_curve: tuple[EquityPoint, ...]
    closes_in_range: int  # candles whose close lies within the grid's range
    summary: LedgerSummary  # at the last close

    @property
    def grid_profit(self) -> Decimal:
        return self.summary.grid_profit

    @property
    def unrealized(self) -> Decimal:
        return self.summary.unrealized_pnl

    @property
    def fees(self) -> Decimal:
        return self.summary.fees_quote

    @property
    def total_pnl(self) -> Decimal:
        return self.summary.total_pnl

    @property
    def equity(self) -> Decimal:
        return self.summary.equity


class LedgerMismatch(AssertionError):
    """The books and the simulated account disagree: a bug, never a market condition."""


class _Run:
    def __init__(
        self, config: grid.GridConfig, instrument: Instrument, fees: Fees, slippage: Decimal
    ) -> None:
        self.config = config
        self.instrument = instrument
        self.fees = fees
        self.slippage = slippage
        self.ledger = Ledger(instrument.base, instrument.quote, config.investment)
        self.venue: SimVenue | None = None
        self.state: grid.GridState | None = None
        self.off_books = ZERO
        self.fills: list[SimFill] = []
        self.placements: list[Placement] = []
        self.held_base = ZERO  # the ledger's base and cost, refreshed after each fill
        self.held_cost = ZERO

    # Start ---------------------------------------------------------------------

    def start(self, candle: Candle) -> None:
        config, instrument, price = self.config, self.instrument, candle.open
        grid.validate(config, instrument, price)
        sizing = grid.size_grid(
            config, instrument, price, grid.quantity_for_investment(config, instrument, price)
        )
        if config.direction is grid.Direction.SHORT:
            committed = sizing.base_for_sells + sizing.base_to_sell
            self.ledger.open_position(START_LOT, committed, price)
            base, quote = committed, self.ledger.quote
        else:
            self.off_books = sizing.base_to_buy * price * grid.START_SLIPPAGE_ALLOWANCE
            base, quote = ZERO, config.investment + self.off_books
        venue = self.venue = SimVenue(instrument, self.fees, base=base, quote=quote)
        venue.begin(candle)
        if sizing.base_to_buy or sizing.base_to_sell:
            side = Side.BUY if sizing.base_to_buy else Side.SELL
            fill = venue.market(side, sizing.base_to_buy or sizing.base_to_sell, price, self.slippage)
            self._book(fill, START_LOT, closes_trip=False)
        self.state, intents = grid.initial_state(config, instrument, price)
        for interval in self.state.intervals:
            if interval.side is Side.SELL:
                self.ledger.allocate(START_LOT, str(interval.index), interval.base_held)
        self._place(intents)
        self._refresh_holdings()

    # Fills ---------------------------------------------------------------------

    def on_fill(self, fill: SimFill) -> None:
        assert self.state is not None
        assert self.venue is not None
        assert fill.interval is not None
        closing_side = Side.SELL if self.config.direction is grid.Direction.LONG else Side.BUY
        self._book(fill, str(fill.interval), closes_trip=fill.side is closing_side)
        grid_fill = grid.GridFill(
            fill.interval, fill.cycle, fill.side, fill.price, fill.quantity, fill.fee, fill.fee_asset
        )
        decision = grid.apply_fills(
            self.config, self.instrument, self.state, [grid_fill], base_available=self.venue.free_base
        )
        self.state = decision.state
        self._place(decision.place)
        self._refresh_holdings()

    def _book(self, fill: SimFill, lot: str, *, closes_trip: bool) -> None:
        self.fills.append(fill)
        self.ledger.apply(
            LedgerFill(fill.side, fill.price, fill.quantity, fill.fee, fill.fee_asset, lot, closes_trip)
        )

    def _place(self, intents: Sequence[grid.OrderIntent]) -> None:
        venue = self.venue
        assert venue is not None
        assert venue.time is not None
        for intent in intents:
            venue.place_limit(
                intent.side, intent.price, intent.quantity, interval=intent.interval, cycle=intent.cycle
            )
            self.placements.append(
                Placement(
                    venue.time,
                    venue.leg,
                    intent.side,
                    intent.price,
                    intent.quantity,
                    intent.interval,
                    intent.cycle,
                )
            )

    def _refresh_holdings(self) -> None:
        self.held_base = self.ledger.base
        self.held_cost = self.ledger.cost

    # Checks --------------------------------------------------------------------

    def check_books(self, mark: Decimal) -> LedgerSummary:
        summary = self.ledger.summary(mark)
        identity = summary.grid_profit + summary.unrealized_pnl - summary.fees_not_netted
        if identity != summary.equity - summary.investment:
            raise LedgerMismatch(
                f"grid profit {summary.grid_profit} + unrealised {summary.unrealized_pnl} - fees "
                f"{summary.fees_not_netted} != equity {summary.equity} - investment {summary.investment}"
            )
        account = self.venue.equity(mark) - self.off_books if self.venue else summary.equity
        if account != summary.equity:
            raise LedgerMismatch(f"The account is worth {account}, the books {summary.equity}.")
        return summary


def run(
    config: grid.GridConfig,
    instrument: Instrument,
    candles: Sequence[Candle],
    fees: Fees | None = None,
    *,
    slippage: Decimal = ZERO,
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Backtest `config` over `candles` (in time order, one interval apart). `fees` override the
    instrument's, for the strategy's sizing as for the venue; `slippage` is a fraction.
    `progress(done, total)` is told about every hundredth of the candles walked; it may raise to
    stop the run."""
    if not candles:
        raise ValueError("A backtest needs at least one candle.")
    exits = (config.take_profit_price, config.stop_loss_price, config.max_drawdown)
    if any(rule is not None for rule in exits):
        raise ValueError(
            "Take-profit, stop-loss and maximum drawdown are not simulated by the backtester yet."
        )
    fees = fees or Fees.of(instrument)
    instrument = replace(instrument, maker_fee=fees.maker, taker_fee=fees.taker)
    sim = _Run(config, instrument, fees, slippage)
    created_at = candles[0].open
    lower, upper = config.lower_price, config.upper_price
    investment = config.investment
    curve: list[EquityPoint] = []
    in_range = 0
    started: Candle | None = None
    on_fill = sim.on_fill
    total = len(candles)
    report_every = max(1, total // 100) if progress is not None else total + 1
    for walked, candle in enumerate(candles):
        if walked % report_every == 0 and progress is not None:
            progress(walked, total)
        check_candle(candle)
        if started is None and grid.trigger_reached(config, candle.open, created_at):
            started = candle
            sim.start(candle)
        close = candle.close
        if sim.venue is not None:
            sim.venue.walk(candle, on_fill)
            equity = sim.venue.quote + sim.venue.base * close - sim.off_books
            unrealized = sim.held_base * close - sim.held_cost
        else:
            equity, unrealized = investment, ZERO
        curve.append(EquityPoint(candle.open_time, close, equity, unrealized))
        if lower <= close <= upper:
            in_range += 1
    last = candles[-1]
    summary = sim.check_books(last.close)
    return Result(
        config=config,
        instrument=instrument,
        fees_rates=fees,
        investment=investment,
        start=candles[0].open_time,
        end=last.open_time + _interval(candles),
        started_at=started.open_time if started else None,
        start_price=started.open if started else None,
        first_price=candles[0].open,
        last_price=last.close,
        fills=tuple(sim.fills),
        placements=tuple(sim.placements),
        equity_curve=tuple(curve),
        closes_in_range=in_range,
        summary=summary,
    )


def _interval(candles: Sequence[Candle]) -> timedelta:
    if len(candles) < 2:
        return timedelta(0)
    return candles[-1].open_time - candles[-2].open_time
