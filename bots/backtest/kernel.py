"""Fast mode for the grid: the exact mode's fills and books, compiled, for optimisation.

The start (trigger, sizing, the start trade, the grid's layout and the start lot's cost
allocation) runs through exact mode's own code (`exact._Run.start`). From there one compiled
loop walks the candles over the grid's interval state: the same path (open -> nearer extreme,
low on a tie -> the other -> close), the same fill rules (at the order's own price; a gap fills
at the open; an order placed mid-candle only further along the path) and the same counter-order
sizing as `grid.apply_fills`, with the venue's free base as its ceiling.

Exactness. Every quantity and amount inside the loop is an integer count of a unit small enough
to hold it exactly: prices in `price_unit` (the finer of the tick and the candles' decimals),
quantities in lot steps, base in lot steps / R and quote in price_unit * lot step / R, where R is
the power of ten that makes both fee rates integers. So fills, quantities and fees are exact and
a long grid's profit too. A reverse grid's lot cost moves by average-cost shares; those are floats
here (the house allows floats only inside this kernel), within 1e-12 relative of the ledger.
Results leave the kernel as Decimals built from the integers.

Equity. The loop keeps the account's whole base and quote (free and on the book) as two running
integers and marks them at every close, as exact mode's curve does: `equity`, floats in quote, for
an optimiser's drawdown and Sharpe; `final_equity`, the last close's, exact as a Decimal.

Not simulated (refused like exact mode): take-profit, stop-loss and maximum drawdown. Not
produced: placements; run exact mode on the winner for those.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal
from functools import cached_property

import numba
import numpy as np
import numpy.typing as npt

from bots.backtest.exact import _Run
from bots.backtest.venue import ZERO, Fees, check_candle
from bots.strategies import grid
from exchanges.base import Candle, Instrument, InsufficientBalance, Side

NONE, BUY, SELL = 0, 1, 2
INT64_ROOM = 2**62  # sums and products of units above this could overflow the kernel's integers

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MILLISECOND = timedelta(milliseconds=1)

Int64s = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]


class KernelUnsupported(ValueError):
    """A config or series the kernel cannot run exactly; exact mode can."""


@dataclass(frozen=True)
class CandleArrays:
    """A candle series as integer prices in `unit`: built once, run against many grids, and
    about 40 bytes a candle (a year of minutes in 21 MB)."""

    unit: Decimal
    open_time_ms: Int64s  # since the Unix epoch
    open: Int64s
    high: Int64s
    low: Int64s
    close: Int64s

    def __post_init__(self) -> None:
        columns = (self.open_time_ms, self.open, self.high, self.low, self.close)
        if not len(self.open):
            raise ValueError("A backtest needs at least one candle.")
        if len({len(column) for column in columns}) != 1:
            raise ValueError("Every column of a candle series needs one value per candle.")
        broken = (self.low > np.minimum(self.open, self.close)) | (
            self.high < np.maximum(self.open, self.close)
        )
        if broken.any():
            check_candle(self.candle(int(np.argmax(broken))))  # raises, naming the candle

    @classmethod
    def of(cls, candles: Sequence[Candle], tick: Decimal) -> CandleArrays:
        if not candles:
            raise ValueError("A backtest needs at least one candle.")
        exponent = min(
            _exponent(tick),
            *(_exponent(p) for c in candles for p in (c.open, c.high, c.low, c.close)),
        )
        prices = [
            [int(getattr(candle, name).scaleb(-exponent)) for candle in candles]
            for name in ("open", "high", "low", "close")
        ]
        times = [(candle.open_time - EPOCH) // MILLISECOND for candle in candles]
        opens, highs, lows, closes = (np.array(column, dtype=np.int64) for column in prices)
        return cls(Decimal(1).scaleb(exponent), np.array(times, dtype=np.int64), opens, highs, lows, closes)

    def __len__(self) -> int:
        return len(self.open)

    def price(self, units: np.int64) -> Decimal:
        return int(units) * self.unit

    def candle(self, index: int) -> Candle:
        return Candle(
            EPOCH + int(self.open_time_ms[index]) * MILLISECOND,
            self.price(self.open[index]),
            self.price(self.high[index]),
            self.price(self.low[index]),
            self.price(self.close[index]),
            Decimal(0),  # volume is not modelled
        )


def _exponent(price: Decimal) -> int:
    exponent = price.normalize().as_tuple().exponent
    assert isinstance(exponent, int)
    return min(exponent, 0)


@dataclass(frozen=True)
class KernelFill:
    candle: int  # index in the series
    leg: int  # 0 the open, 1 the first extreme, 2 the second, 3 the close
    side: Side
    level: int  # the price line, 0 = the lower price
    interval: int
    quantity: Decimal


@dataclass(frozen=True)
class KernelResult:
    start_index: int | None  # the candle the grid started at; None if the trigger never came
    grid_profit: Decimal
    fees_by_asset: dict[str, Decimal]  # the start trade's fee included
    fees: Decimal  # every fee in quote at the last close, as exact mode's `fees`
    round_trips: int
    # The grid fills (not the start trade), one row each: candle, leg, side, line, quantity in
    # lot steps. Kept as integers: an optimiser scoring thousands of configs rarely reads them.
    fill_rows: Int64s = field(repr=False, compare=False)
    quantity_step: Decimal = Decimal(1)
    # Equity at each candle's close, in quote (floats: for ranking, not for the books); before
    # the start, the investment. `final_equity` is the last close's, exact.
    equity: Floats = field(default_factory=lambda: np.empty(0), repr=False, compare=False)
    final_equity: Decimal = ZERO

    @property
    def fill_count(self) -> int:
        return len(self.fill_rows)

    @cached_property
    def fills(self) -> tuple[KernelFill, ...]:
        return tuple(
            KernelFill(
                candle=int(row[0]),
                leg=int(row[1]),
                side=Side.BUY if row[2] == BUY else Side.SELL,
                level=int(row[3]),
                interval=int(row[3]) if row[2] == BUY else int(row[3]) - 1,
                quantity=int(row[4]) * self.quantity_step,
            )
            for row in self.fill_rows
        )


def run(
    config: grid.GridConfig,
    instrument: Instrument,
    series: CandleArrays,
    fees: Fees | None = None,
    *,
    slippage: Decimal = ZERO,
) -> KernelResult:
    """Backtest `config` over `series` as exact mode would, fills and books only."""
    exits = (config.take_profit_price, config.stop_loss_price, config.max_drawdown)
    if any(rule is not None for rule in exits):
        raise ValueError(
            "The fast kernel does not model take-profit, stop-loss or maximum drawdown: exact mode does."
        )
    fees = fees or Fees.of(instrument)
    instrument = replace(instrument, maker_fee=fees.maker, taker_fee=fees.taker)
    start = _start_index(config, series)
    if start is None:
        flat = np.full(len(series), float(config.investment))
        return KernelResult(
            None,
            ZERO,
            {},
            ZERO,
            0,
            np.empty((0, 5), dtype=np.int64),
            equity=flat,
            final_equity=config.investment,
        )
    sim = _Run(config, instrument, fees, slippage)
    sim.start(series.candle(start))
    units = _Units(series.unit, instrument, fees)
    arrays = _initial_arrays(sim, units, config.direction)
    opening_account = _account_totals(arrays, units)
    short = config.direction is grid.Direction.SHORT
    capacity = 1024 + len(series) // 8
    while True:
        fills = np.empty((capacity, 5), dtype=np.int64)
        totals = np.zeros(5, dtype=np.int64)
        realized_float = np.zeros(3, dtype=np.float64)  # short profit; shadows of totals 1 and 2
        equity = np.empty(len(series), dtype=np.float64)
        account = opening_account.copy()
        i = intervals = arrays.intervals.copy()
        count = _walk(
            series.open, series.high, series.low, series.close, start, arrays.lines, arrays.ticks,
            arrays.min_quantity,
            i.side, i.quantity, i.base_held, i.quote_held, i.cost, i.cost_float, i.has_start_cost,
            arrays.free_base, arrays.free_quote,
            arrays.quantity_per_order, units.r, units.maker, short, float(units.quote),
            fills, totals, realized_float, equity, float(units.base * units.price), account,
        )  # fmt: skip
        if count >= 0:
            break
        if count <= -2:
            raise InsufficientBalance(
                f"The grid runs out of {instrument.quote} for a counter-buy in the candle at "
                f"{series.candle(-2 - count).open_time.isoformat()}: "
                "its grids are too narrow to pay two fees."
            )
        capacity *= 4
    if max(abs(realized_float[1]), abs(realized_float[2])) > INT64_ROOM:
        raise KernelUnsupported("Sums this large overflow the kernel's integers.")
    result = _result(
        sim, units, arrays, intervals, fills[:count].copy(), totals, realized_float[0], start, series, short
    )
    return _with_equity(result, sim, units, arrays, account, equity, series, start)


def _account_totals(arrays: _Arrays, units: _Units) -> Int64s:
    """The account's whole base and quote in the loop's units: free plus what rests on the book."""
    i = arrays.intervals
    on_sell = int((i.quantity[i.side == SELL]).sum()) * units.r
    buys = i.side == BUY
    on_buy = int((i.quantity[buys] * arrays.ticks[:-1][buys]).sum()) * units.r
    return np.array([arrays.free_base + on_sell, arrays.free_quote + on_buy], dtype=np.int64)


def _with_equity(
    result: KernelResult,
    sim: _Run,
    units: _Units,
    arrays: _Arrays,
    account: Int64s,
    equity: Floats,
    series: CandleArrays,
    start: int,
) -> KernelResult:
    """Adds back what the loop's units floored away and the start's off-book room, as exact
    mode's curve leaves it out."""
    assert sim.venue is not None
    base_rest = sim.venue.free_base - arrays.free_base * units.base
    quote_rest = sim.venue.free_quote - arrays.free_quote * units.quote - sim.off_books
    _add_rest(equity, series.close, start, float(quote_rest), float(base_rest), float(series.unit))
    equity[:start] = float(sim.config.investment)
    mark = series.price(series.close[-1])
    final = int(account[1]) * units.quote + quote_rest + (int(account[0]) * units.base + base_rest) * mark
    return replace(result, equity=equity, final_equity=final)


def _start_index(config: grid.GridConfig, series: CandleArrays) -> int | None:
    """The first candle whose open reaches the trigger (`grid.trigger_reached`), found on the
    integer opens: a trigger above the first open waits for a rise to it, one below for a fall."""
    trigger = config.trigger_price
    if trigger is None:
        return 0
    in_units = trigger / series.unit
    if trigger >= series.price(series.open[0]):
        reached = series.open >= int(in_units.to_integral_value(rounding=ROUND_CEILING))
    else:
        reached = series.open <= int(in_units.to_integral_value(rounding=ROUND_FLOOR))
    return int(np.argmax(reached)) if reached.any() else None


@dataclass(frozen=True)
class _Units:
    price: Decimal  # one price unit, for comparing with the candles
    tick: Decimal  # the instrument's tick: orders rest on it, so money is counted in it
    step: Decimal  # one lot step
    r: int  # the maker rate * r is an integer (the taker rate is paid only at the start)
    maker: int  # maker rate * r
    base: Decimal  # step / r
    quote: Decimal  # tick * step / r

    def __init__(self, price: Decimal, instrument: Instrument, fees: Fees) -> None:
        r = 10 ** -_exponent(fees.maker)
        object.__setattr__(self, "price", price)
        object.__setattr__(self, "tick", instrument.tick_size)
        object.__setattr__(self, "step", instrument.quantity_step)
        object.__setattr__(self, "r", r)
        object.__setattr__(self, "maker", _whole(fees.maker * r))
        object.__setattr__(self, "base", instrument.quantity_step / r)
        object.__setattr__(self, "quote", instrument.tick_size * instrument.quantity_step / r)


def _floored(amount: Decimal, unit: Decimal) -> int:
    return int(amount // unit)


def _whole(value: Decimal) -> int:
    if value != value.to_integral_value():
        raise KernelUnsupported(f"{value} is not a whole number of the kernel's units.")
    return int(value)


@dataclass(frozen=True)
class _Intervals:
    """Each interval's order and holdings, as `grid.Interval` keeps them, one array per field."""

    side: Int64s  # NONE, BUY (at line k) or SELL (at line k + 1)
    quantity: Int64s  # steps
    base_held: Int64s  # base units
    quote_held: Int64s  # quote units
    cost: Int64s  # a long grid's lot cost since its last sell, in quote units
    cost_float: Floats  # a reverse grid's lot cost, in quote
    has_start_cost: Int64s  # a long grid's lot still carries the start lot's cost

    def copy(self) -> _Intervals:
        return _Intervals(*(getattr(self, name).copy() for name in self.__dataclass_fields__))


@dataclass(frozen=True)
class _Arrays:
    lines: Int64s  # in price units
    ticks: Int64s  # the same lines in ticks
    min_quantity: Int64s  # per line, in steps
    intervals: _Intervals
    free_base: int
    free_quote: int
    quantity_per_order: int
    start_costs: tuple[Decimal, ...]  # the start lot's cost each interval was given


def _initial_arrays(sim: _Run, units: _Units, direction: grid.Direction) -> _Arrays:
    assert sim.state is not None
    assert sim.venue is not None
    lines = sim.state.lines
    side = np.array([BUY if i.side is Side.BUY else SELL for i in sim.state.intervals], dtype=np.int64)
    quantity = np.array([_whole(i.quantity / units.step) for i in sim.state.intervals], dtype=np.int64)
    side[quantity == 0] = NONE
    base_held = np.array([_whole(i.base_held / units.base) for i in sim.state.intervals], dtype=np.int64)
    quote_held = np.array([_whole(i.quote_held / units.quote) for i in sim.state.intervals], dtype=np.int64)
    start_costs = tuple(
        sim.ledger.lots[str(k)].cost if str(k) in sim.ledger.lots else ZERO for k in range(len(side))
    )
    cost_float = np.array([float(c) for c in start_costs], dtype=np.float64)
    has_start_cost = np.array([1 if c else 0 for c in start_costs], dtype=np.int64)
    line_units = np.array([_whole(line / units.price) for line in lines], dtype=np.int64)
    line_ticks = np.array([_whole(line / units.tick) for line in lines], dtype=np.int64)
    instrument = sim.instrument
    min_quantity = np.array(
        [_whole(instrument.min_quantity_at(line) / units.step) for line in lines], dtype=np.int64
    )
    # The start's taker fees may leave balances finer than the units. Every amount the loop
    # compares them with is a whole number of units, so flooring them changes no comparison.
    free_base = _floored(sim.venue.free_base, units.base)
    free_quote = _floored(sim.venue.free_quote, units.quote)
    # The largest numbers the loop forms: an order's quantity x its price x r, and the balances;
    # a reverse grid's orders and both balances grow with its profit, hence the headroom.
    largest = max(int(line_ticks.max()) * max(int(quantity.max()), 1) * units.r, free_base, free_quote)
    if largest * 8 > INT64_ROOM:
        raise KernelUnsupported(
            "Prices, quantities or an investment this large overflow the kernel's integers; "
            "exact mode runs them."
        )
    return _Arrays(
        lines=line_units,
        ticks=line_ticks,
        min_quantity=min_quantity,
        intervals=_Intervals(
            side,
            quantity,
            base_held,
            quote_held,
            np.zeros(len(side), dtype=np.int64),
            cost_float,
            has_start_cost,
        ),
        free_base=free_base,
        free_quote=free_quote,
        quantity_per_order=_whole(sim.state.quantity_per_order / units.step),
        start_costs=start_costs,
    )


def _result(
    sim: _Run,
    units: _Units,
    arrays: _Arrays,
    intervals: _Intervals,
    fills: Int64s,
    totals: Int64s,
    realized_float: float,
    start: int,
    series: CandleArrays,
    short: bool,
) -> KernelResult:
    base_asset, quote_asset = sim.instrument.base, sim.instrument.quote
    by_asset = dict(sim.ledger.fees_by_asset)
    by_asset[base_asset] = by_asset.get(base_asset, ZERO) + int(totals[0]) * units.base
    by_asset[quote_asset] = by_asset.get(quote_asset, ZERO) + int(totals[1]) * units.quote
    has_start_cost = intervals.has_start_cost
    if short:
        profit = sim.ledger.realized + Decimal(repr(float(realized_float)))
    else:
        spent = sum((c for k, c in enumerate(arrays.start_costs) if c and not has_start_cost[k]), ZERO)
        profit = sim.ledger.realized + int(totals[2]) * units.quote - spent
    mark = series.price(series.close[-1])
    return KernelResult(
        start_index=start,
        grid_profit=profit,
        fees_by_asset=by_asset,
        fees=by_asset.get(quote_asset, ZERO) + by_asset.get(base_asset, ZERO) * mark,
        round_trips=sim.ledger.round_trips + int(totals[3]),
        fill_rows=fills,
        quantity_step=units.step,
    )


# The compiled loop ----------------------------------------------------------------------------
# Interval k holds a buy at line k or a sell at line k + 1. `best_buy` is the highest line with a
# buy, `best_sell` the lowest with a sell; a candle that reaches neither is skipped at once.


@numba.njit(cache=True, nogil=True)
def _walk(
    opens: Int64s, highs: Int64s, lows: Int64s, closes: Int64s, start: int, lines: Int64s,
    ticks: Int64s, min_quantity: Int64s, side: Int64s, quantity: Int64s, base_held: Int64s,
    quote_held: Int64s, cost: Int64s, cost_float: Floats, has_start_cost: Int64s, free_base: int,
    free_quote: int, quantity_per_order: int, r: int, maker: int, short: bool, quote_unit: float,
    fills: Int64s, totals: Int64s, realized_float: Floats, equity: Floats, base_price_unit: float,
    account: Int64s,
) -> int:  # fmt: skip
    n = lines.shape[0] - 1
    # free base, fill count, 1 = out of room for fills / 2 = out of quote, free quote,
    # the account's whole base, its whole quote (both free and on the book; `account` on return)
    state = np.array([free_base, 0, 0, free_quote, account[0], account[1]], dtype=np.int64)
    best_buy = _next_buy(side, n - 1)
    best_sell = _next_sell(side, 1, n)
    path = np.empty(4, dtype=np.int64)
    for c in range(start, opens.shape[0]):
        low, high = lows[c], highs[c]
        buy_in_reach = best_buy >= 0 and low <= lines[best_buy]
        sell_in_reach = best_sell <= n and high >= lines[best_sell]
        if not buy_in_reach and not sell_in_reach:
            equity[c] = state[5] * quote_unit + state[4] * base_price_unit * closes[c]
            continue
        o = opens[c]
        path[0] = o
        if high - o < o - low:
            path[1], path[2] = high, low
        else:
            path[1], path[2] = low, high
        path[3] = closes[c]
        price = o
        for leg in range(4):
            target = path[leg]
            if leg == 0 or target < price:
                while best_buy >= 0 and lines[best_buy] >= target:
                    k = best_buy
                    _fill_buy(
                        k,
                        c,
                        leg,
                        ticks,
                        min_quantity,
                        side,
                        quantity,
                        base_held,
                        quote_held,
                        cost,
                        cost_float,
                        state,
                        r,
                        maker,
                        short,
                        quote_unit,
                        fills,
                        totals,
                        quantity_per_order,
                    )
                    if side[k] == SELL and k + 1 < best_sell:
                        best_sell = k + 1
                    best_buy = _next_buy(side, k - 1)
            if leg == 0 or target > price:
                while best_sell <= n and lines[best_sell] <= target:
                    k = best_sell - 1
                    _fill_sell(
                        k,
                        c,
                        leg,
                        ticks,
                        min_quantity,
                        side,
                        quantity,
                        base_held,
                        quote_held,
                        cost,
                        cost_float,
                        has_start_cost,
                        r,
                        maker,
                        short,
                        quote_unit,
                        fills,
                        totals,
                        realized_float,
                        state,
                        quantity_per_order,
                    )
                    if side[k] == BUY and k > best_buy:
                        best_buy = k
                    best_sell = _next_sell(side, k + 2, n)
            price = target
        equity[c] = state[5] * quote_unit + state[4] * base_price_unit * closes[c]
        if state[2] == 1:
            return -1
        if state[2] == 2:
            return -2 - c
    account[0], account[1] = state[4], state[5]
    return state[1]


@numba.njit(cache=True, nogil=True)
def _add_rest(
    equity: Floats, close: Int64s, start: int, quote_rest: float, base_rest: float, unit: float
) -> None:
    """`equity[start:] += quote_rest + base_rest * close * unit` in one pass: numpy's version made
    three temporaries of the series' length, a fifth of a short series' run."""
    for k in range(start, len(equity)):
        equity[k] += quote_rest + base_rest * (close[k] * unit)


@numba.njit(cache=True, inline="always")
def _next_buy(side: Int64s, k: int) -> int:
    while k >= 0 and side[k] != BUY:
        k -= 1
    return k


@numba.njit(cache=True, inline="always")
def _next_sell(side: Int64s, line: int, n: int) -> int:
    while line <= n and side[line - 1] != SELL:
        line += 1
    return line


@numba.njit(cache=True, inline="always")
def _record(fills: Int64s, state: Int64s, c: int, leg: int, order_side: int, line: int, q: int) -> None:
    i = state[1]
    if i >= fills.shape[0]:
        state[2] = 1
        return
    fills[i, 0] = c
    fills[i, 1] = leg
    fills[i, 2] = order_side
    fills[i, 3] = line
    fills[i, 4] = q
    state[1] = i + 1


@numba.njit(cache=True, inline="always")
def _fill_buy(
    k: int, c: int, leg: int, ticks: Int64s, min_quantity: Int64s, side: Int64s, quantity: Int64s,
    base_held: Int64s, quote_held: Int64s, cost: Int64s, cost_float: Floats, state: Int64s, r: int,
    maker: int, short: bool, quote_unit: float, fills: Int64s, totals: Int64s, quantity_per_order: int,
) -> None:  # fmt: skip
    q = quantity[k]
    price = ticks[k]
    _record(fills, state, c, leg, BUY, k, q)
    net = q * (r - maker)
    state[0] += net  # the fee is taken in base
    state[4] += net
    state[5] -= q * price * r
    totals[0] += q * maker
    base_held[k] += net
    if short:
        cost_float[k] += q * price * r * quote_unit
        quote_held[k] = max(0, quote_held[k] - q * price * r)
        totals[3] += 1  # a reverse grid's buy closes its round trip
        wanted = min(quantity_per_order * r, base_held[k])
    else:
        cost[k] += q * price * r
        wanted = base_held[k]
    sell = min(wanted, state[0]) // r
    if sell < min_quantity[k + 1]:
        side[k] = NONE  # fee dust: nothing worth placing
        quantity[k] = 0
    else:
        side[k] = SELL
        quantity[k] = sell
        state[0] -= sell * r


@numba.njit(cache=True, inline="always")
def _fill_sell(
    k: int, c: int, leg: int, ticks: Int64s, min_quantity: Int64s, side: Int64s, quantity: Int64s,
    base_held: Int64s, quote_held: Int64s, cost: Int64s, cost_float: Floats, has_start_cost: Int64s,
    r: int, maker: int, short: bool, quote_unit: float, fills: Int64s, totals: Int64s,
    realized_float: Floats, state: Int64s, quantity_per_order: int,
) -> None:  # fmt: skip
    q = quantity[k]
    price = ticks[k + 1]
    _record(fills, state, c, leg, SELL, k + 1, q)
    proceeds = q * price * (r - maker)  # the fee is taken in quote
    totals[1] += q * price * maker
    realized_float[1] += q * price * maker
    leaving = q * r
    state[3] += proceeds
    state[4] -= leaving
    state[5] += proceeds
    if short:
        whole_lot = leaving == base_held[k]
        cost_out = cost_float[k] if whole_lot else cost_float[k] * leaving / base_held[k]
        realized_float[0] += proceeds * quote_unit - cost_out
        cost_float[k] -= cost_out
        quote_held[k] += proceeds
        buy = quote_held[k] // (ticks[k] * r)
    else:
        # A long grid's sell closes the trip: the lot's whole cost leaves with it.
        totals[2] += proceeds - cost[k]
        realized_float[2] += proceeds - cost[k]
        cost[k] = 0
        has_start_cost[k] = 0
        totals[3] += 1
        buy = quantity_per_order
    base_held[k] -= leaving
    if buy < min_quantity[k]:
        side[k] = NONE
        quantity[k] = 0
    elif state[3] < buy * ticks[k] * r:
        state[2] = 2  # the venue would refuse the counter-buy, as exact mode does
    else:
        side[k] = BUY
        quantity[k] = buy
        state[3] -= buy * ticks[k] * r
