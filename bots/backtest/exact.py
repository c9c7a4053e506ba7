"""Exact mode: one bot over a candle series, fill by fill, on the live strategy's code path.

The strategy is found by name (`strategy_named`, "grid" unless told) and asked exactly what the
live engine asks it (bots/strategies/base.py); the grid's calls are named below.

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
start trade's slippage (`grid.START_SLIPPAGE_ALLOWANCE`), or, for a strategy that checks funds
before its orders (DCA), the quote its `funds_needed` asks beyond the investment; that room is
off the books, so the equity curve is the account's value minus it. An order the strategy's
check (`funds_to_place`) or the simulated venue refuses goes to `on_refused`, as live; a
`halt` ends the run there, where the live bot would stop in error (`Result.halted`).

Exits, as the live engine takes them: when the strategy watches the price (a grid with a
take-profit, stop-loss or maximum drawdown), `exit_reason` is asked at each of the candle path's
four points once that point's fills are done (the live engine asks it every tick, on the last
price), with the equity there. The first reason ends the backtest at that point: every resting
order is cancelled and, when `exit_action` says to sell, the base is gathered into the exit lot
and sold at market at that point's price (with slippage, taker), in the parts the live stop
splits it into (`exit_sale`); dust stays. The equity curve ends with that candle. `on_price`
re-plans are asked at the same points. The fast kernel models no exit and refuses such configs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from bots.backtest.venue import ZERO, Fees, SimFill, SimVenue, check_candle
from bots.shortfalls import order_shortfall_message
from bots.strategies import grid
from bots.strategies.base import (
    EXIT_LOT,
    START_SLIPPAGE_ALLOWANCE,
    Decision,
    ExitAction,
    ExitReason,
    OrderIntent,
    Strategy,
    StrategyFill,
    clock_at,
    exit_sale,
    funds_shortfall,
)
from bots.strategies.registry import strategy_named
from exchanges.base import (
    Candle,
    Instrument,
    InsufficientBalance,
    InvalidOrder,
    InvalidOrderReason,
    OrderType,
    Side,
)
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
    summary: LedgerSummary  # at the last close (at the exit, after an exit)
    exit_reason: ExitReason | None = None  # the rule that ended the run, if one did
    exited_at: datetime | None = None  # the open time of the candle it ended in
    exit_price: Decimal | None = None
    state: Any = None  # the strategy's state at the end (a DCA run's deals)
    halted: str | None = None  # why the bot would have stopped in error there, as the live one does

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
        self,
        config: grid.GridConfig,
        instrument: Instrument,
        fees: Fees,
        slippage: Decimal,
        strategy: Strategy[Any, Any] | None = None,
    ) -> None:
        self.strategy = strategy or strategy_named("grid")
        self.config = config
        self.instrument = instrument
        self.fees = fees
        self.slippage = slippage
        self.ledger = Ledger(instrument.base, instrument.quote, self.strategy.investment(config))
        self.venue: SimVenue | None = None
        self.state: grid.GridState | None = None
        self.off_books = ZERO
        self.fills: list[SimFill] = []
        self.placements: list[Placement] = []
        self.held_base = ZERO  # the ledger's base and cost, refreshed after each fill
        self.held_cost = ZERO
        self.exit: tuple[ExitReason, Decimal] | None = None
        self.halted: tuple[str, Decimal] | None = None  # the reason, and the price it happened at

    # Start ---------------------------------------------------------------------

    def start(self, candle: Candle) -> None:
        strategy, config, instrument, price = self.strategy, self.config, self.instrument, candle.open
        strategy.validate(config, instrument, price, "the exchange")
        trade = strategy.start_trade(config, instrument, price)
        investment = strategy.investment(config)
        if trade.committed_base:
            self.ledger.open_position(START_LOT, trade.committed_base, price)
            base, quote = trade.committed_base, self.ledger.quote
        else:
            # The room the funds check leaves for a start purchase's slippage, off the books.
            bought = trade.quantity if trade.side is Side.BUY else ZERO
            self.off_books = bought * price * START_SLIPPAGE_ALLOWANCE
            base, quote = ZERO, investment + self.off_books
        if strategy.checks_funds:
            # The live start demands the strategy's whole funds_needed (a DCA deal's room for its
            # base order's slippage, a short's quote for its stop): the account holds it, and
            # what lies beyond the investment is off the books, as the start's room above is.
            needed = strategy.funds_needed(config, instrument, price).get(instrument.quote, ZERO)
            room = max(ZERO, needed - quote)
            self.off_books += room
            quote += room
        venue = self.venue = SimVenue(instrument, self.fees, base=base, quote=quote)
        venue.begin(candle)
        if trade.quantity:
            fill = venue.market(trade.side, trade.quantity, price, self.slippage)
            self._book(fill, START_LOT, closes_trip=False)
        self.state, intents = strategy.initial_state(config, instrument, price)
        for lot, allocated in strategy.opening_allocations(self.state):
            self.ledger.allocate(START_LOT, lot, allocated)
        self._place(intents)
        self._refresh_holdings()

    # Fills ---------------------------------------------------------------------

    def on_fill(self, fill: SimFill) -> None:
        assert self.state is not None
        assert self.venue is not None
        assert fill.interval is not None
        strategy = self.strategy
        # A simulated fill is always its order's whole quantity: the order is complete.
        closes = strategy.closes_trip(self.config, fill.side, True)
        self._book(fill, strategy.ledger_lot(fill.interval), closes_trip=closes)
        strategy_fill = StrategyFill(
            fill.interval, fill.cycle, fill.side, fill.price, fill.quantity, fill.fee, fill.fee_asset
        )
        decision = strategy.apply_fills(
            self.state, [strategy_fill], self.instrument, self.config, base_available=self.venue.free_base
        )
        self._carry_out(decision)

    def _carry_out(self, decision: Decision[Any]) -> None:
        assert self.venue is not None
        self.state = decision.state
        for slot, cycle in decision.cancel:
            self.venue.cancel(slot, cycle)
        self._place(decision.place)
        self._refresh_holdings()

    # Exits ---------------------------------------------------------------------

    def at_point(self, leg: int, price: Decimal) -> bool:
        """A point of the path, its fills done: the exit rules, then any re-plan. True ends the run."""
        venue = self.venue
        assert venue is not None
        if self.halted is not None:
            return True
        equity = venue.equity(price) - self.off_books
        reason = self.strategy.exit_reason(self.config, price, equity)
        if reason is not None:
            self.take_exit(reason, price)
            return True
        if self.strategy.replans:
            decision = self.strategy.on_price(self.state, price, self.instrument, self.config)
            if decision is not None:
                self._carry_out(decision)
        return False

    def take_exit(self, reason: ExitReason, price: Decimal) -> None:
        """As the live stop does it: cancel every order, then gather the base and sell it at market."""
        venue = self.venue
        assert venue is not None
        venue.cancel_all()
        self.exit = (reason, price)
        if self.strategy.exit_action(self.config, reason) is not ExitAction.SELL_BASE:
            return
        ledger = self.ledger
        for lot in list(ledger.lots):
            if lot != EXIT_LOT and ledger.lots[lot].base:
                ledger.allocate(lot, EXIT_LOT, ledger.lots[lot].base)
        for part in exit_sale(ledger.base_in(EXIT_LOT), self.instrument, price).parts:
            self._book(venue.market(Side.SELL, part, price, self.slippage), EXIT_LOT, closes_trip=False)
        self._refresh_holdings()

    def _book(self, fill: SimFill, lot: str, *, closes_trip: bool) -> None:
        self.fills.append(fill)
        self.ledger.apply(
            LedgerFill(fill.side, fill.price, fill.quantity, fill.fee, fill.fee_asset, lot, closes_trip)
        )

    def _place(self, intents: Sequence[OrderIntent]) -> None:
        venue = self.venue
        assert venue is not None
        assert venue.time is not None
        for intent in intents:
            if self.halted is not None:
                return
            shortfall = self._shortfall(intent)
            if shortfall:
                self._refused(intent, shortfall)
                continue
            try:
                if intent.order_type is OrderType.MARKET:
                    # Trades at once where the path stands; its fill goes back to the strategy.
                    fill = venue.market(intent.side, intent.quantity, venue.price, self.slippage)
                else:
                    venue.place_limit(
                        intent.side,
                        intent.price,
                        intent.quantity,
                        interval=intent.interval,
                        cycle=intent.cycle,
                    )
            except (InsufficientBalance, InvalidOrder) as exc:
                if isinstance(exc, InvalidOrder) and exc.reason is InvalidOrderReason.POST_ONLY_WOULD_TAKE:
                    raise
                if not self._refused(intent, str(exc)):
                    raise
                continue
            if intent.order_type is OrderType.MARKET:
                self.on_fill(replace(fill, interval=intent.interval, cycle=intent.cycle))
                continue
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

    def _shortfall(self, intent: OrderIntent) -> str:
        """The live engine's check before it sends a strategy's order (`funds_to_place`)."""
        if not self.strategy.checks_funds:
            return ""
        assert self.venue is not None
        needed = self.strategy.funds_to_place(self.state, intent.key, self.config, self.instrument)
        if not any(amount > 0 for amount in needed.values()):
            return ""
        free = {self.instrument.base: self.venue.free_base, self.instrument.quote: self.venue.free_quote}
        return order_shortfall_message(funds_shortfall(needed, free), self.instrument)

    def _refused(self, intent: OrderIntent, reason: str) -> bool:
        """As the live engine: the strategy withdraws the order, and may stop the bot. False when
        the strategy has no answer (the refusal is then the run's failure, as before)."""
        decision = self.strategy.on_refused(self.state, intent.key, reason, self.config, self.instrument)
        if decision is None:
            return False
        self._carry_out(decision)
        if decision.halt:
            self.halt(decision.halt)
        return True

    def halt(self, reason: str) -> None:
        """The live bot would stop in error here: nothing it left resting is booked any more."""
        assert self.venue is not None
        self.venue.cancel_all()
        self.halted = (reason, self.venue.price)

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
    strategy: str = "grid",
) -> Result:
    """Backtest `config` over `candles` (in time order, one interval apart). `fees` override the
    instrument's, for the strategy's sizing as for the venue; `slippage` is a fraction.
    `progress(done, total)` is told about every hundredth of the candles walked;
    it may raise to
    stop the run. `strategy` names the registered strategy `config` is for."""
    if not candles:
        raise ValueError("A backtest needs at least one candle.")
    runs = strategy_named(strategy)
    fees = fees or Fees.of(instrument)
    instrument = replace(instrument, maker_fee=fees.maker, taker_fee=fees.taker)
    sim = _Run(config, instrument, fees, slippage, runs)
    watches = runs.watches_price(config)
    at_point = sim.at_point if watches else None
    created_at = candles[0].open
    # A range is the grid's: another strategy's run counts no candle in range.
    lower, upper = getattr(config, "lower_price", None), getattr(config, "upper_price", None)
    investment = runs.investment(config)
    curve: list[EquityPoint] = []
    in_range = 0
    started: Candle | None = None
    on_fill = sim.on_fill
    total = len(candles)
    report_every = max(1, total // 100) if progress is not None else total + 1
    now = [candles[0].open_time]
    with clock_at(lambda: now[0]):  # a strategy's time is the candle's (a DCA cooldown)
        for walked, candle in enumerate(candles):
            if walked % report_every == 0 and progress is not None:
                progress(walked, total)
            check_candle(candle)
            now[0] = candle.open_time
            if started is None and runs.start_wait(config, candle.open, created_at) is None:
                started = candle
                sim.start(candle)
            close = candle.close
            if sim.venue is not None:
                if sim.venue.walk(candle, on_fill, at_point) or sim.halted is not None:
                    close = _end_price(sim)  # the run ends here, at the exit's (or halt's) price
                equity = sim.venue.quote + sim.venue.base * close - sim.off_books
                unrealized = sim.held_base * close - sim.held_cost
            else:
                equity, unrealized = investment, ZERO
            curve.append(EquityPoint(candle.open_time, close, equity, unrealized))
            if lower is not None and upper is not None and lower <= close <= upper:
                in_range += 1
            if sim.exit is not None or sim.halted is not None:
                break
    last = candles[len(curve) - 1]
    mark = _end_price(sim) if sim.exit is not None or sim.halted is not None else last.close
    summary = sim.check_books(mark)
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
        last_price=mark,
        fills=tuple(sim.fills),
        placements=tuple(sim.placements),
        equity_curve=tuple(curve),
        closes_in_range=in_range,
        summary=summary,
        exit_reason=sim.exit[0] if sim.exit else None,
        exited_at=last.open_time if sim.exit else None,
        exit_price=sim.exit[1] if sim.exit else None,
        state=sim.state,
        halted=sim.halted[0] if sim.halted else None,
    )


def _end_price(sim: _Run) -> Decimal:
    ended = sim.exit or sim.halted
    assert ended is not None
    return ended[1]


def _interval(candles: Sequence[Candle]) -> timedelta:
    if len(candles) < 2:
        return timedelta(0)
    return candles[-1].open_time - candles[-2].open_time
