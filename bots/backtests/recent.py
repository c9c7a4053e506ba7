"""What a grid would have done over the newest 30 days of 5-minute candles: the wizard's hindsight.

The candles are the backtests' own (`bots.backtests.candles`): the store, else the series the
paper market replays. The window ends at the newest candle stored (or shipped) for the symbol.
A preview runs on every keystroke, so the series is turned into the kernel's integer columns once
per symbol and window and kept in this process for `SERIES_SECONDS`; the kernel itself takes
milliseconds.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlencode

from django.urls import reverse

from bots.backtest import kernel
from bots.backtest.optimise import max_drawdown
from bots.backtests.candles import VENUES, Window, find_source, load
from bots.backtests.forms import GRID_FIELDS
from bots.forms import initial_from_config
from bots.strategies import grid
from exchanges.base import ExchangeError, Instrument
from exchanges.market_data import files, intervals, store

INTERVAL = "5m"
DAYS = 30
SERIES_SECONDS = 300  # new candles arrive every 5 minutes; a fresher window can wait that long


@dataclass(frozen=True)
class Hindsight:
    first: datetime  # the window's first open
    last: datetime  # its last candle's close
    candles: int
    total_return: Decimal
    grid_profit: Decimal
    fills: int  # grid fills: the start trade not counted
    round_trips: int
    max_drawdown: Decimal  # the deepest fall, a fraction of its peak
    buy_and_hold: Decimal
    backtest_url: str

    @property
    def max_drawdown_percent(self) -> Decimal:
        return self.max_drawdown * 100


@dataclass(frozen=True)
class Unavailable:
    reason: str


@dataclass(frozen=True)
class _Series:
    window: Window
    arrays: kernel.CandleArrays


_cache: dict[tuple[str, Decimal], tuple[float, _Series | None]] = {}
_lock = threading.Lock()


def hindsight(config: grid.GridConfig, instrument: Instrument) -> Hindsight | Unavailable:
    """The config over the newest 30 days, or why it cannot be shown."""
    exits = (config.take_profit_price, config.stop_loss_price, config.max_drawdown)
    if any(rule is not None for rule in exits):
        return Unavailable(
            "No 30-day replay here for a bot with take-profit, stop-loss or maximum drawdown: "
            "run a backtest, which simulates them."
        )
    series = recent_series(config.symbol, instrument.tick_size)
    if series is None:
        return Unavailable(f"No 30-day replay: no {INTERVAL} candles of {config.symbol} are stored.")
    try:
        result = kernel.run(config, instrument, series.arrays)
    except (ValueError, ExchangeError) as exc:  # the grid refused at the window's prices
        return Unavailable(f"No 30-day replay: {str(exc) or type(exc).__name__}")
    arrays, investment = series.arrays, config.investment
    first_open, last_close = arrays.price(arrays.open[0]), arrays.price(arrays.close[-1])
    return Hindsight(
        first=series.window.first,
        last=intervals.step(INTERVAL, series.window.first, len(arrays)),
        candles=len(arrays),
        total_return=(result.final_equity - investment) / investment,
        grid_profit=result.grid_profit,
        fills=result.fill_count,
        round_trips=result.round_trips,
        max_drawdown=Decimal(repr(max_drawdown(result.equity, float(investment)))),
        buy_and_hold=(last_close - first_open) / first_open,
        backtest_url=backtest_url(config, series.window),
    )


def backtest_url(config: grid.GridConfig, window: Window) -> str:
    """The backtests page with this grid and window filled in."""
    values = initial_from_config(None, "", config)
    query = {key: value for key, value in values.items() if key in GRID_FIELDS and value not in (None, "")}
    # The page's dates are whole UTC days: from the window's first day to the day after its last.
    query.update(
        symbol=config.symbol,
        interval=INTERVAL,
        start=window.first.date().isoformat(),
        end=(window.last.date() + timedelta(days=1)).isoformat(),
    )
    return f"{reverse('backtests')}?{urlencode(query)}"


def recent_series(symbol: str, tick: Decimal) -> _Series | None:
    key = (symbol, tick)
    now = time.monotonic()
    with _lock:
        cached = _cache.get(key)
    if cached is not None and now - cached[0] < SERIES_SECONDS:
        return cached[1]
    series = _read_series(symbol, tick)
    with _lock:
        _cache[key] = (now, series)
    return series


def forget_series() -> None:
    with _lock:
        _cache.clear()


def newest_window(symbol: str) -> Window | None:
    """The 30 days of 5-minute candles ending at the newest one stored, else shipped."""
    newest = [
        found[1] for venue in VENUES if (found := store.stored_range(store.Series(venue, symbol, INTERVAL)))
    ]
    if not newest:
        shipped = files.newest_shipped(symbol, INTERVAL, None, datetime.max.replace(tzinfo=UTC), 1)
        newest = [candle.open_time for candle in shipped]
    if not newest:
        return None
    last = max(newest)
    return Window(INTERVAL, intervals.step(INTERVAL, last, 1 - DAYS * 24 * 12), last)


def _read_series(symbol: str, tick: Decimal) -> _Series | None:
    window = newest_window(symbol)
    if window is None:
        return None
    source = find_source(symbol, window)
    if source is None:
        return None
    candles = load(source.venue, symbol, window)
    if not candles:
        return None
    first = candles[0].open_time
    return _Series(Window(INTERVAL, first, candles[-1].open_time), kernel.CandleArrays.of(candles, tick))
