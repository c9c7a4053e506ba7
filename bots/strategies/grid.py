"""The spot grid strategy: configuration, validation, levels, preview and decisions.

Pure Python, no Django and no I/O: the same code runs live, in the preview
and in the backtester.

Layout. `N` grids give `N + 1` price lines `P_0 < ... < P_N` and `N`
intervals; interval `k` spans `[P_k, P_k+1]` and holds one order. An interval
whose lower line is below the price holds a buy at `P_k`; one whose lower line
is at or above the price holds a sell at `P_k+1`. So the first line at or
above the price stays empty.

Long (classic) grids trade an equal base quantity per order and accumulate
quote. When a buy in interval `k` fills, its base (net of the fee taken in
base) is offered at `P_k+1`; when that sell fills, the buy at `P_k` returns.

Short (reverse) grids start from base, sell high and buy back low with the
whole proceeds, so each round trip leaves extra base. Sells are the equal base
quantity; buys spend what the paired sell earned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_HALF_EVEN, ROUND_UP, Decimal
from enum import StrEnum
from functools import lru_cache

from bots.strategies.base import (
    START_SLIPPAGE_ALLOWANCE,
    ConfigError,
    Decision,
    ExitAction,
    ExitReason,
    Json,
    Milestone,
    OrderIntent,
    OrderKey,
    Shortfall,
    StartTrade,
    StrategyFill,
    funds_shortfall,
)
from exchanges.base import Instrument, Side
from trading.numbers import fixed, plain

# The shared types, under the names the grid's callers have always imported.
__all__ = [
    "START_SLIPPAGE_ALLOWANCE",
    "ConfigError",
    "Decision",
    "ExitAction",
    "ExitReason",
    "GridConfigError",
    "GridFill",
    "OrderIntent",
    "Shortfall",
    "funds_shortfall",
]
GridFill = StrategyFill
GridConfigError = ConfigError

MIN_GRIDS = 2
MAX_GRIDS = 200


class Spacing(StrEnum):
    ARITHMETIC = "arithmetic"
    GEOMETRIC = "geometric"


class Direction(StrEnum):
    LONG = "long"
    SHORT = "short"


@dataclass(frozen=True)
class GridConfig:
    symbol: str
    lower_price: Decimal
    upper_price: Decimal
    grid_count: int
    investment: Decimal  # in quote
    spacing: Spacing = Spacing.ARITHMETIC
    direction: Direction = Direction.LONG
    trigger_price: Decimal | None = None
    take_profit_price: Decimal | None = None
    take_profit_action: ExitAction = ExitAction.SELL_BASE
    stop_loss_price: Decimal | None = None
    stop_loss_action: ExitAction = ExitAction.SELL_BASE
    max_drawdown: Decimal | None = None  # a fraction of the investment, e.g. 0.25


# Levels ------------------------------------------------------------------------


def grid_lines(config: GridConfig, instrument: Instrument) -> tuple[Decimal, ...]:
    """The N + 1 price lines, on the tick grid.

    A line carries a buy for the interval above it and a sell for the one
    below, so it rounds to the nearest tick rather than favouring either side.
    """
    return _lines(config.lower_price, config.upper_price, config.grid_count, config.spacing, instrument)


# Sizing searches lay out the same grid many times, and geometric powers are slow.
@lru_cache(maxsize=1024)
def _lines(
    lower: Decimal, upper: Decimal, count: int, spacing: Spacing, instrument: Instrument
) -> tuple[Decimal, ...]:
    if spacing is Spacing.ARITHMETIC:
        step = (upper - lower) / count
        raw = [lower + step * i for i in range(count + 1)]
    else:
        ratio = upper / lower
        raw = [lower * ratio ** (Decimal(i) / count) for i in range(count + 1)]
    raw[0], raw[-1] = lower, upper  # exact ends, whatever the arithmetic did
    return tuple(instrument.round_price(price, ROUND_HALF_EVEN) for price in raw)


@dataclass(frozen=True)
class Slot:
    """The order one interval holds when the grid is laid out at a price."""

    interval: int
    side: Side
    price: Decimal
    quantity: Decimal


def layout_sides(lines: Sequence[Decimal], price: Decimal) -> list[tuple[int, Side, Decimal]]:
    """(interval, side, order price) for every interval at `price`."""
    return [
        (k, Side.BUY, lines[k]) if lines[k] < price else (k, Side.SELL, lines[k + 1])
        for k in range(len(lines) - 1)
    ]


# Sizing ------------------------------------------------------------------------


@dataclass(frozen=True)
class Sizing:
    quantity_per_order: Decimal
    slots: tuple[Slot, ...]
    quote_for_buys: Decimal  # reserved by the resting buy orders
    base_for_sells: Decimal  # reserved by the resting sell orders
    base_to_buy: Decimal  # long: bought at start (fee reserved)
    base_to_sell: Decimal  # short: sold at start to fund the buys
    investment_used: Decimal


def size_grid(config: GridConfig, instrument: Instrument, price: Decimal, quantity: Decimal) -> Sizing:
    """Everything the grid needs when each order trades `quantity` base."""
    lines = grid_lines(config, instrument)
    fee = instrument.taker_fee
    slots = []
    for k, side, order_price in layout_sides(lines, price):
        slot_quantity = quantity
        if config.direction is Direction.SHORT and side is Side.BUY:
            # A reverse grid's buy spends what selling `quantity` at the line above would earn.
            slot_quantity = instrument.round_quantity(quantity * lines[k + 1] / order_price, ROUND_DOWN)
        slots.append(Slot(k, side, order_price, slot_quantity))
    quote_for_buys = sum((s.quantity * s.price for s in slots if s.side is Side.BUY), Decimal(0))
    base_for_sells = sum((s.quantity for s in slots if s.side is Side.SELL), Decimal(0))
    base_to_buy = base_to_sell = Decimal(0)
    if config.direction is Direction.LONG:
        # The buy fee is taken in base, so buy enough that the net covers the sells.
        if base_for_sells:
            base_to_buy = _round_up(base_for_sells / (1 - fee), instrument.quantity_step)
        investment_used = quote_for_buys + base_to_buy * price
    else:
        if quote_for_buys:
            base_to_sell = _round_up(quote_for_buys / (price * (1 - fee)), instrument.quantity_step)
        investment_used = (base_for_sells + base_to_sell) * price
    return Sizing(
        quantity_per_order=quantity,
        slots=tuple(slots),
        quote_for_buys=quote_for_buys,
        base_for_sells=base_for_sells,
        base_to_buy=base_to_buy,
        base_to_sell=base_to_sell,
        investment_used=investment_used,
    )


def _round_up(value: Decimal, step: Decimal) -> Decimal:
    return (value / step).to_integral_value(rounding=ROUND_UP) * step


def quantity_for_investment(config: GridConfig, instrument: Instrument, price: Decimal) -> Decimal:
    """The largest equal base quantity per order the investment pays for, rounded down."""
    unit = size_grid(config, instrument, price, Decimal(1))
    if unit.investment_used <= 0:
        return Decimal(0)
    quantity = instrument.round_quantity(config.investment / unit.investment_used, ROUND_DOWN)
    # Rounding the start purchase up can overshoot by a step; step back until it fits.
    while quantity > 0 and size_grid(config, instrument, price, quantity).investment_used > config.investment:
        quantity -= instrument.quantity_step
    return quantity


def smallest_order(instrument: Instrument, price: Decimal) -> Decimal:
    """The smallest quantity worth placing at `price`: after its fee, what it buys can still
    be sold, so no interval is ever left with a counter-order below the venue minimum."""
    return _round_up(instrument.min_quantity_at(price) / (1 - instrument.taker_fee), instrument.quantity_step)


def minimum_quantity(config: GridConfig, instrument: Instrument, price: Decimal) -> Decimal:
    """The smallest equal quantity whose every order meets the venue's minimums, fees included."""
    lines = grid_lines(config, instrument)
    prices = [order_price for _, _, order_price in layout_sides(lines, price)]
    return max(smallest_order(instrument, order_price) for order_price in prices)


def minimum_investment(config: GridConfig, instrument: Instrument, price: Decimal) -> Decimal:
    quantity = minimum_quantity(config, instrument, price)
    sizing = size_grid(config, instrument, price, quantity)
    if any(slot.quantity < smallest_order(instrument, slot.price) for slot in sizing.slots):
        quantity += instrument.quantity_step  # a reverse grid's rounded-down buy fell short
        sizing = size_grid(config, instrument, price, quantity)
    return sizing.investment_used


# Funds -------------------------------------------------------------------------


def funds_needed(config: GridConfig, instrument: Instrument, price: Decimal) -> dict[str, Decimal]:
    """The quote and base the account must hold free for the grid to start at `price`.

    A long grid spends quote: its resting buys, and the start purchase with room for slippage.
    A reverse grid starts from base: its resting sells and the base sold at start."""
    sizing = size_grid(config, instrument, price, quantity_for_investment(config, instrument, price))
    if config.direction is Direction.LONG:
        quote = sizing.quote_for_buys + sizing.base_to_buy * price * (1 + START_SLIPPAGE_ALLOWANCE)
        return {instrument.quote: quote, instrument.base: Decimal(0)}
    return {instrument.quote: Decimal(0), instrument.base: sizing.base_for_sells + sizing.base_to_sell}


# Validation --------------------------------------------------------------------


def validate(config: GridConfig, instrument: Instrument, price: Decimal, venue: str = "the exchange") -> None:
    """Raise GridConfigError listing everything a trader must fix, in their words."""
    errors: dict[str, list[str]] = {}

    def add(field_name: str, message: str) -> None:
        errors.setdefault(field_name, []).append(message)

    _check_shape(config, add)
    if errors:
        raise GridConfigError(errors)
    lines = grid_lines(config, instrument)
    if len(set(lines)) != len(lines):
        add(
            "grid_count",
            f"With {config.grid_count} grids some levels fall on the same price at "
            f"{config.symbol}'s tick size of {plain(instrument.tick_size)}. "
            "Use fewer grids or a wider range.",
        )
        raise GridConfigError(errors)
    _check_exits(config, add)
    _check_minimums(config, instrument, price, venue, add)
    _check_maxima(config, instrument, price, venue, add)
    if errors:
        raise GridConfigError(errors)


def _check_shape(config: GridConfig, add: Callable[[str, str], None]) -> None:
    if config.lower_price <= 0:
        add("lower_price", "The lower price must be above zero.")
    if config.upper_price <= config.lower_price:
        add("upper_price", "The upper price must be above the lower price.")
    if not MIN_GRIDS <= config.grid_count <= MAX_GRIDS:
        add("grid_count", f"Use between {MIN_GRIDS} and {MAX_GRIDS} grids.")
    if config.investment <= 0:
        add("investment", "The investment must be above zero.")
    if config.max_drawdown is not None and not 0 < config.max_drawdown < 1:
        add("max_drawdown", "The maximum drawdown is a fraction between 0 and 1, such as 0.2 for 20%.")
    if config.trigger_price is not None and config.trigger_price <= 0:
        add("trigger_price", "The trigger price must be above zero.")


def _check_exits(config: GridConfig, add: Callable[[str, str], None]) -> None:
    if config.take_profit_price is not None and config.take_profit_price <= config.upper_price:
        add(
            "take_profit_price",
            "Set the take-profit above the upper price, or the grid could never sell there.",
        )
    if config.stop_loss_price is not None and config.stop_loss_price >= config.lower_price:
        add("stop_loss_price", "Set the stop-loss below the lower price.")
    if config.stop_loss_price is not None and config.stop_loss_price <= 0:
        add("stop_loss_price", "The stop-loss must be above zero.")


def _check_minimums(
    config: GridConfig, instrument: Instrument, price: Decimal, venue: str, add: Callable[[str, str], None]
) -> None:
    quantity = quantity_for_investment(config, instrument, price)
    sizing = size_grid(config, instrument, price, quantity)
    too_small = [s for s in sizing.slots if s.quantity < smallest_order(instrument, s.price)]
    if not too_small:
        return
    smallest = min(too_small, key=lambda s: s.quantity * s.price)
    order_value = (smallest.quantity * smallest.price).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
    needed = minimum_investment(config, instrument, price).to_integral_value(rounding=ROUND_CEILING)
    most_grids = max_grids_for(config, instrument, price)
    advice = f"Use at most {most_grids} grids or invest" if most_grids else "Invest"
    add(
        "investment",
        f"With {config.grid_count} grids, each order would be {fixed(order_value)} {instrument.quote}; "
        f"{_venue_name(venue)} minimum is {plain(instrument.min_amount)} {instrument.quote} and "
        f"{plain(instrument.min_quantity)} {instrument.base}. "
        f"{advice} at least {plain(needed)} {instrument.quote}.",
    )


def _check_maxima(
    config: GridConfig, instrument: Instrument, price: Decimal, venue: str, add: Callable[[str, str], None]
) -> None:
    sizing = size_grid(config, instrument, price, quantity_for_investment(config, instrument, price))
    problems = _maxima_exceeded(sizing, instrument, price, _venue_name(venue))
    if not problems:
        return
    ceiling = maximum_investment(config, instrument, price)
    most = f"lower the investment to at most {_readable(ceiling)} {instrument.quote}"
    grids = fewest_grids_within_maxima(config, instrument, price)
    for problem, more_grids_help in problems:
        advice = f"{most} or use at least {grids} grids" if more_grids_help and grids else most
        add("investment", f"{problem}: {advice}.")


def _maxima_exceeded(
    sizing: Sizing, instrument: Instrument, price: Decimal, venue_name: str
) -> list[tuple[str, bool]]:
    """What breaks the venue's per-order maxima, each with whether more grids would shrink it."""
    problems: list[tuple[str, bool]] = []
    base, quote = instrument.base, instrument.quote
    if sizing.slots:
        largest = max(sizing.slots, key=lambda s: s.quantity)
        dearest = max(sizing.slots, key=lambda s: s.quantity * s.price)
        each = "Each order" if len({s.quantity for s in sizing.slots}) == 1 else "The largest order"
        if largest.quantity > instrument.max_quantity:
            problems.append(
                (
                    f"{each} would be {_readable(largest.quantity)} {base}, above {venue_name} maximum "
                    f"of {_readable(instrument.max_quantity)} {base} per limit order",
                    True,
                )
            )
        elif dearest.quantity * dearest.price > instrument.max_amount:
            problems.append(
                (
                    f"{each} would be worth {_readable(dearest.quantity * dearest.price, CENT)} {quote}, "
                    f"above {venue_name} maximum of {_readable(instrument.max_amount)} {quote} per order",
                    True,
                )
            )
    start = sizing.base_to_buy or sizing.base_to_sell
    verb = "buy" if sizing.base_to_buy else "sell"
    if start > instrument.max_market_quantity:
        problems.append(
            (
                f"The start would {verb} {_readable(start)} {base} at market, above {venue_name} maximum "
                f"of {_readable(instrument.max_market_quantity)} {base} per market order",
                False,
            )
        )
    elif start * price > instrument.max_amount:
        problems.append(
            (
                f"The start would {verb} {_readable(start * price, CENT)} {quote} of {base} at market, "
                f"above {venue_name} maximum of {_readable(instrument.max_amount)} {quote} per order",
                False,
            )
        )
    return problems


def _within_maxima(
    config: GridConfig, instrument: Instrument, price: Decimal, quantity: Decimal, *, per_order: bool = False
) -> bool:
    """Whether `quantity` per order breaks no maximum (with `per_order`, none that grids can shrink)."""
    sizing = size_grid(config, instrument, price, quantity)
    problems = _maxima_exceeded(sizing, instrument, price, "")
    return not [problem for problem, more_grids_help in problems if more_grids_help or not per_order]


def maximum_investment(config: GridConfig, instrument: Instrument, price: Decimal) -> Decimal:
    """The largest whole investment in quote whose every order stays within the venue's maxima."""
    step = instrument.quantity_step
    # No order may trade more than the limit maximum, and every order trades at least the
    # quantity per order; bigger orders only break more maxima, so bisect on lot steps.
    fits, too_big = 0, int(instrument.max_quantity / step) + 1
    while too_big - fits > 1:
        middle = (fits + too_big) // 2
        if _within_maxima(config, instrument, price, middle * step):
            fits = middle
        else:
            too_big = middle
    used = size_grid(config, instrument, price, fits * step).investment_used
    return used.to_integral_value(rounding=ROUND_DOWN)


def fewest_grids_within_maxima(config: GridConfig, instrument: Instrument, price: Decimal) -> int:
    """The fewest grids (more than now) that spread this investment within the maxima (0 if none)."""

    def fits(count: int) -> bool:
        candidate = replace(config, grid_count=count)
        quantity = quantity_for_investment(candidate, instrument, price)
        return _within_maxima(candidate, instrument, price, quantity, per_order=True)

    # More grids make every order smaller, so bisect on the count.
    too_few, enough = config.grid_count, MAX_GRIDS
    if not fits(enough):
        return 0
    while enough - too_few > 1:
        middle = (too_few + enough) // 2
        if fits(middle):
            enough = middle
        else:
            too_few = middle
    lines = grid_lines(replace(config, grid_count=enough), instrument)
    return enough if len(set(lines)) == len(lines) else 0  # else levels would share prices


CENT = Decimal("0.01")


def _readable(value: Decimal, places: Decimal | None = None) -> str:
    """Thousands separators and no trailing zeros: 3,919.2 rather than 3919.200000."""
    if places is not None:
        value = value.quantize(places, rounding=ROUND_DOWN)
    return f"{value.normalize():,f}"


def _venue_name(venue: str) -> str:
    return f"{venue}'s" if venue != "the exchange" else "the exchange's"


def max_grids_for(config: GridConfig, instrument: Instrument, price: Decimal) -> int:
    """The most grids this investment can fund with every order above the minimums (0 if none)."""
    for count in range(config.grid_count, MIN_GRIDS - 1, -1):
        candidate = replace(config, grid_count=count)
        lines = grid_lines(candidate, instrument)
        if (
            len(set(lines)) == len(lines)
            and minimum_investment(candidate, instrument, price) <= config.investment
        ):
            return count
    return 0


# Preview -----------------------------------------------------------------------


@dataclass(frozen=True)
class PreviewLevel:
    price: Decimal
    side: Side | None
    quantity: Decimal | None


@dataclass(frozen=True)
class GridPreview:
    levels: tuple[PreviewLevel, ...]  # one per price line, low to high
    quantity_per_order: Decimal
    profit_per_grid_min: Decimal  # fractions after fees: 0.0123 is 1.23%
    profit_per_grid_max: Decimal
    min_investment: Decimal
    investment_used: Decimal
    base_to_buy: Decimal
    base_to_sell: Decimal
    break_even_price: Decimal | None
    loss_at_stop: Decimal  # quote lost if the price falls to the stop-loss (or the lower bound)
    loss_at_stop_fraction: Decimal
    risk: Risk
    warnings: tuple[str, ...] = field(default=())


def preview(config: GridConfig, instrument: Instrument, price: Decimal) -> GridPreview:
    """What the grid would do at `price`. Call `validate` first to get errors."""
    lines = grid_lines(config, instrument)
    quantity = quantity_for_investment(config, instrument, price)
    sizing = size_grid(config, instrument, price, quantity)
    by_line: dict[int, Slot] = {}
    for slot in sizing.slots:
        by_line[slot.interval if slot.side is Side.BUY else slot.interval + 1] = slot
    levels = tuple(
        PreviewLevel(line, by_line[i].side, by_line[i].quantity)
        if i in by_line
        else PreviewLevel(line, None, None)
        for i, line in enumerate(lines)
    )
    profits = profit_per_grid(lines, instrument.maker_fee)
    outcomes = _risk(config, instrument, price, sizing)
    loss = max(
        Decimal(0), -(outcomes.pnl_at_stop if outcomes.pnl_at_stop is not None else outcomes.pnl_at_lower)
    )
    return GridPreview(
        levels=levels,
        quantity_per_order=quantity,
        profit_per_grid_min=min(profits),
        profit_per_grid_max=max(profits),
        min_investment=minimum_investment(config, instrument, price),
        investment_used=sizing.investment_used,
        base_to_buy=sizing.base_to_buy,
        base_to_sell=sizing.base_to_sell,
        break_even_price=_break_even(sizing, instrument, price),
        loss_at_stop=loss,
        loss_at_stop_fraction=(loss / sizing.investment_used) if sizing.investment_used else Decimal(0),
        risk=outcomes,
        warnings=tuple(_warnings(config, instrument, price, profits, sizing)),
    )


def profit_per_grid(lines: Sequence[Decimal], fee: Decimal) -> list[Decimal]:
    """Per interval: sell_qty*sell_price*(1-fee) - buy_qty*buy_price over the buy cost,
    with sell_qty the bought quantity net of its fee."""
    return [(1 - fee) * (1 - fee) * lines[k + 1] / lines[k] - 1 for k in range(len(lines) - 1)]


def _break_even(sizing: Sizing, instrument: Instrument, price: Decimal) -> Decimal | None:
    """Long: the average cost of the base bought at start, fees included."""
    if not sizing.base_to_buy:
        return None
    net_base = sizing.base_to_buy * (1 - instrument.taker_fee)
    return instrument.round_price(sizing.base_to_buy * price / net_base, ROUND_UP)


# Risk --------------------------------------------------------------------------


@dataclass(frozen=True)
class Risk:
    """Profit or loss (negative) in quote against the investment, fees included, if the price goes
    from where the grid starts straight to each bound, or to the stop-loss and the bot exits there."""

    pnl_at_lower: Decimal
    pnl_at_upper: Decimal
    pnl_at_stop: Decimal | None  # None without a stop-loss
    investment_used: Decimal

    def fraction(self, pnl: Decimal | None) -> Decimal | None:
        """`pnl` as a fraction of the investment the grid uses."""
        if pnl is None or not self.investment_used:
            return None
        return pnl / self.investment_used


def risk(config: GridConfig, instrument: Instrument, price: Decimal) -> Risk:
    """The outcome at each bound and at the stop-loss for a grid started at `price`, wherever
    the price is against the range: below it a long grid buys the base of every sell at market."""
    sizing = size_grid(config, instrument, price, quantity_for_investment(config, instrument, price))
    return _risk(config, instrument, price, sizing)


def _risk(config: GridConfig, instrument: Instrument, price: Decimal, sizing: Sizing) -> Risk:
    stop = config.stop_loss_price
    return Risk(
        pnl_at_lower=_pnl_if_price_reaches(sizing, config, instrument, price, config.lower_price),
        pnl_at_upper=_pnl_if_price_reaches(sizing, config, instrument, price, config.upper_price),
        pnl_at_stop=None
        if stop is None
        else _pnl_if_price_reaches(
            sizing,
            config,
            instrument,
            price,
            stop,
            sell_at_end=config.stop_loss_action is ExitAction.SELL_BASE,
        ),
        investment_used=sizing.investment_used,
    )


def _holdings_at_start(
    sizing: Sizing, config: GridConfig, instrument: Instrument, price: Decimal
) -> tuple[Decimal, Decimal]:
    """(base, quote) once the start trade is done, the investment not used counted as quote."""
    unused = config.investment - sizing.investment_used
    if config.direction is Direction.LONG:
        return sizing.base_to_buy * (1 - instrument.taker_fee), unused + sizing.quote_for_buys
    return sizing.base_for_sells, unused + sizing.base_to_sell * price * (1 - instrument.taker_fee)


def _pnl_if_price_reaches(
    sizing: Sizing,
    config: GridConfig,
    instrument: Instrument,
    price: Decimal,
    target: Decimal,
    *,
    sell_at_end: bool = False,
) -> Decimal:
    """Equity at `target` minus the investment. On the way every order the move crosses fills
    (buys below the price on a fall, sells above it on a rise); their counter-orders sit behind
    the move and do not. With `sell_at_end` the base left is sold at market at `target`."""
    base, quote = _holdings_at_start(sizing, config, instrument, price)
    fee = instrument.maker_fee
    for slot in sizing.slots:
        if slot.side is Side.BUY and target <= slot.price:
            base += slot.quantity * (1 - fee)
            quote -= slot.quantity * slot.price
        elif slot.side is Side.SELL and target >= slot.price:
            base -= slot.quantity
            quote += slot.quantity * slot.price * (1 - fee)
    value = base * target * (1 - instrument.taker_fee) if sell_at_end else base * target
    return quote + value - config.investment


def _warnings(
    config: GridConfig, instrument: Instrument, price: Decimal, profits: list[Decimal], sizing: Sizing
) -> list[str]:
    warnings = []
    if not config.lower_price <= price <= config.upper_price:
        where = "below" if price < config.lower_price else "above"
        warnings.append(
            f"The price ({plain(price)}) is {where} your range: the grid will hold only "
            f"{'buys' if where == 'above' else 'sells'} until it returns."
        )
    if price < config.lower_price and sizing.base_to_buy:
        value = (sizing.base_to_buy * price).quantize(Decimal("0.01"), rounding=ROUND_DOWN)
        warnings.append(
            f"The bot buys {sizing.base_to_buy} {instrument.base} (about {value} {instrument.quote}) at "
            "market now for those sells, and holds it until the price rises into the range: "
            "any fall from here is a loss on all of it."
        )
    if min(profits) <= 0:
        warnings.append(
            "Some grids are too narrow to cover two trading fees: they would lose money on every trade."
        )
    elif min(profits) < Decimal("0.001"):
        warnings.append("Profit per grid is below 0.1% after fees. Fewer grids earn more per trade.")
    unused = config.investment - sizing.investment_used
    if unused > config.investment * Decimal("0.05"):
        warnings.append(
            f"{fixed(unused, rounding=ROUND_DOWN)} {instrument.quote} of the "
            "investment stays unused because order sizes round down to the lot step."
        )
    if config.stop_loss_price is None and config.max_drawdown is None:
        warnings.append(
            "No stop-loss is set: if the price falls below the range, the bot keeps all the base it bought."
        )
    return warnings


# Decisions ---------------------------------------------------------------------


@dataclass(frozen=True)
class Interval:
    """One grid interval and the single order it holds."""

    index: int
    side: Side
    price: Decimal
    quantity: Decimal  # of the current order
    filled: Decimal = Decimal(0)
    cycle: int = 0  # bumps with every new order, so client order ids never repeat
    base_held: Decimal = Decimal(0)  # bought in this interval (net of fees) and not yet sold
    quote_held: Decimal = Decimal(0)  # short grids: earned by this interval's sell, for the buy-back

    @property
    def complete(self) -> bool:
        return self.filled >= self.quantity


@dataclass(frozen=True)
class GridState:
    lines: tuple[Decimal, ...]
    quantity_per_order: Decimal
    intervals: tuple[Interval, ...]


def initial_state(
    config: GridConfig, instrument: Instrument, price: Decimal
) -> tuple[GridState, tuple[OrderIntent, ...]]:
    """The grid laid out at `price`, assuming the start trade (base bought or sold) is done."""
    quantity = quantity_for_investment(config, instrument, price)
    sizing = size_grid(config, instrument, price, quantity)
    intervals = tuple(
        Interval(
            index=slot.interval,
            side=slot.side,
            price=slot.price,
            quantity=slot.quantity,
            base_held=slot.quantity if slot.side is Side.SELL else Decimal(0),
            quote_held=_reserved_quote(slot, config.direction),
        )
        for slot in sizing.slots
    )
    state = GridState(grid_lines(config, instrument), quantity, intervals)
    return state, tuple(_intent(interval) for interval in intervals)


def _reserved_quote(slot: Slot, direction: Direction) -> Decimal:
    """A reverse grid's opening buys spend quote raised by the start sale."""
    if direction is Direction.SHORT and slot.side is Side.BUY:
        return slot.quantity * slot.price
    return Decimal(0)


def _intent(interval: Interval) -> OrderIntent:
    return OrderIntent(interval.index, interval.cycle, interval.side, interval.price, interval.quantity)


def trigger_reached(config: GridConfig, price: Decimal, price_when_created: Decimal) -> bool:
    """A trigger above the creation price waits for a rise to it; one below, for a fall."""
    trigger = config.trigger_price
    if trigger is None:
        return True
    return price >= trigger if trigger >= price_when_created else price <= trigger


def exit_reason(config: GridConfig, price: Decimal, equity: Decimal | None) -> ExitReason | None:
    if config.take_profit_price is not None and price >= config.take_profit_price:
        return ExitReason.TAKE_PROFIT
    if config.stop_loss_price is not None and price <= config.stop_loss_price:
        return ExitReason.STOP_LOSS
    if (
        config.max_drawdown is not None
        and equity is not None
        and equity <= config.investment * (1 - config.max_drawdown)
    ):
        return ExitReason.MAX_DRAWDOWN
    return None


def decide(
    config: GridConfig,
    instrument: Instrument,
    state: GridState,
    price: Decimal,
    fills: Sequence[GridFill],
    *,
    base_available: Decimal,
    equity: Decimal | None = None,
) -> Decision[GridState]:
    """Apply the fills just seen and say which orders to place next.

    `base_available` is the base this bot holds and has not offered yet; no
    sell is ever planned beyond it. Exits win over everything else.
    """
    reason = exit_reason(config, price, equity)
    if reason is not None:
        action = config.take_profit_action if reason is ExitReason.TAKE_PROFIT else config.stop_loss_action
        return Decision(state, exit=reason, exit_action=action)
    return apply_fills(config, instrument, state, fills, base_available=base_available)


def apply_fills(
    config: GridConfig,
    instrument: Instrument,
    state: GridState,
    fills: Sequence[GridFill],
    *,
    base_available: Decimal,
) -> Decision[GridState]:
    """Book the fills into the grid and plan each completed order's counter-order."""
    intervals = list(state.intervals)
    place: list[OrderIntent] = []
    for fill in fills:
        interval = intervals[fill.interval]
        if (fill.cycle, fill.side) != (interval.cycle, interval.side):
            continue  # belongs to an order this interval has moved past
        interval = _apply_fill(interval, fill, instrument, config.direction)
        if interval.complete:
            interval, intent = _counter_order(interval, state, instrument, config.direction, base_available)
            if intent is not None:
                if intent.side is Side.SELL:
                    base_available -= intent.quantity
                place.append(intent)
        intervals[fill.interval] = interval
    return Decision(replace(state, intervals=tuple(intervals)), tuple(place))


def _apply_fill(interval: Interval, fill: GridFill, instrument: Instrument, direction: Direction) -> Interval:
    base_fee = fill.fee if fill.fee_asset == instrument.base else Decimal(0)
    quote_fee = fill.fee if fill.fee_asset == instrument.quote else Decimal(0)
    if fill.side is Side.BUY:
        return replace(
            interval,
            filled=interval.filled + fill.quantity,
            base_held=interval.base_held + fill.quantity - base_fee,
            quote_held=max(Decimal(0), interval.quote_held - fill.quantity * fill.price - quote_fee)
            if direction is Direction.SHORT
            else interval.quote_held,
        )
    return replace(
        interval,
        filled=interval.filled + fill.quantity,
        base_held=interval.base_held - fill.quantity,
        quote_held=interval.quote_held + fill.quantity * fill.price - quote_fee
        if direction is Direction.SHORT
        else interval.quote_held,
    )


def counter_level(lines: Sequence[Decimal], index: int, filled: Side) -> tuple[Side, Decimal]:
    """The order that answers a filled one in interval `index`: a sell at its upper line after
    a buy, a buy at its lower line after a sell (the spot and futures grids' shared geometry)."""
    return (Side.SELL, lines[index + 1]) if filled is Side.BUY else (Side.BUY, lines[index])


def _counter_order(
    interval: Interval,
    state: GridState,
    instrument: Instrument,
    direction: Direction,
    base_available: Decimal,
) -> tuple[Interval, OrderIntent | None]:
    side, price = counter_level(state.lines, interval.index, interval.side)
    if interval.side is Side.BUY:
        wanted = (
            interval.base_held
            if direction is Direction.LONG
            else min(state.quantity_per_order, interval.base_held)
        )
        quantity = instrument.round_quantity(min(wanted, base_available), ROUND_DOWN)
    else:
        if direction is Direction.LONG:
            quantity = state.quantity_per_order
        else:
            quantity = instrument.round_quantity(interval.quote_held / price, ROUND_DOWN)
    flipped = replace(
        interval, side=side, price=price, quantity=quantity, filled=Decimal(0), cycle=interval.cycle + 1
    )
    if quantity < instrument.min_quantity_at(price):
        # Too little to trade (fee dust): keep it on the books, place nothing.
        return replace(flipped, quantity=Decimal(0)), None
    return flipped, _intent(flipped)


# JSON --------------------------------------------------------------------------

_CONFIG_DECIMALS = (
    "lower_price",
    "upper_price",
    "investment",
    "trigger_price",
    "take_profit_price",
    "stop_loss_price",
    "max_drawdown",
)


def config_to_json(config: GridConfig) -> Json:
    """Decimals as strings, enums as their values."""
    return {
        key: (str(value) if isinstance(value, Decimal) else value) for key, value in asdict(config).items()
    }


def config_from_json(data: Json) -> GridConfig:
    values = dict(data)
    for key in _CONFIG_DECIMALS:
        value = values.get(key)
        values[key] = None if value is None else Decimal(str(value))
    values["spacing"] = Spacing(values.get("spacing", Spacing.ARITHMETIC))
    values["direction"] = Direction(values.get("direction", Direction.LONG))
    values["take_profit_action"] = ExitAction(values.get("take_profit_action", ExitAction.SELL_BASE))
    values["stop_loss_action"] = ExitAction(values.get("stop_loss_action", ExitAction.SELL_BASE))
    values["grid_count"] = int(values["grid_count"])
    return GridConfig(**values)


def state_to_json(state: GridState) -> Json:
    return {
        "lines": [str(line) for line in state.lines],
        "quantity_per_order": str(state.quantity_per_order),
        "intervals": [
            {
                "index": i.index,
                "side": i.side.value,
                "price": str(i.price),
                "quantity": str(i.quantity),
                "filled": str(i.filled),
                "cycle": i.cycle,
                "base_held": str(i.base_held),
                "quote_held": str(i.quote_held),
            }
            for i in state.intervals
        ],
    }


def state_from_json(data: Json) -> GridState:
    return GridState(
        lines=tuple(Decimal(line) for line in data["lines"]),
        quantity_per_order=Decimal(data["quantity_per_order"]),
        intervals=tuple(
            Interval(
                index=i["index"],
                side=Side(i["side"]),
                price=Decimal(i["price"]),
                quantity=Decimal(i["quantity"]),
                filled=Decimal(i["filled"]),
                cycle=i["cycle"],
                base_held=Decimal(i["base_held"]),
                quote_held=Decimal(i["quote_held"]),
            )
            for i in data["intervals"]
        ),
    )


# The protocol --------------------------------------------------------------------


def start_trade(config: GridConfig, instrument: Instrument, price: Decimal) -> StartTrade:
    """A long grid buys the base of its opening sells; a reverse grid brings base and sells
    what funds its opening buys."""
    sizing = size_grid(config, instrument, price, quantity_for_investment(config, instrument, price))
    if config.direction is Direction.SHORT:
        return StartTrade(
            Side.SELL, sizing.base_to_sell, committed_base=sizing.base_for_sells + sizing.base_to_sell
        )
    return StartTrade(Side.BUY, sizing.base_to_buy)


def has_exit_rules(config: GridConfig) -> bool:
    """Only a grid with a take-profit, stop-loss or drawdown limit needs the price every tick."""
    return any(
        rule is not None for rule in (config.take_profit_price, config.stop_loss_price, config.max_drawdown)
    )


def exit_action(config: GridConfig, reason: ExitReason) -> ExitAction:
    return config.take_profit_action if reason is ExitReason.TAKE_PROFIT else config.stop_loss_action


class GridStrategy:
    """The spot grid behind the Strategy protocol (bots/strategies/base.py)."""

    name = "grid"
    label = "grid"
    replans = False  # its orders stay until they fill; only a stop cancels them
    checks_funds = False  # the start checks the whole grid

    def config_from_json(self, data: Json) -> GridConfig:
        return config_from_json(data)

    def config_to_json(self, config: GridConfig) -> Json:
        return config_to_json(config)

    def investment(self, config: GridConfig) -> Decimal:
        return config.investment

    def validate(self, config: GridConfig, instrument: Instrument, price: Decimal, venue: str) -> None:
        validate(config, instrument, price, venue=venue)

    def funds_needed(self, config: GridConfig, instrument: Instrument, price: Decimal) -> dict[str, Decimal]:
        return funds_needed(config, instrument, price)

    def preview(self, config: GridConfig, instrument: Instrument, price: Decimal) -> GridPreview:
        return preview(config, instrument, price)

    def state_to_json(self, state: GridState) -> Json:
        return state_to_json(state)

    def state_from_json(self, data: Json) -> GridState:
        return state_from_json(data)

    def start_wait(self, config: GridConfig, price: Decimal, price_when_created: Decimal) -> str | None:
        if trigger_reached(config, price, price_when_created):
            return None
        return (
            f"Waiting for the price to reach the trigger {plain(config.trigger_price)} (now {plain(price)})."
        )

    def start_trade(self, config: GridConfig, instrument: Instrument, price: Decimal) -> StartTrade:
        return start_trade(config, instrument, price)

    def initial_state(
        self, config: GridConfig, instrument: Instrument, price: Decimal
    ) -> tuple[GridState, tuple[OrderIntent, ...]]:
        return initial_state(config, instrument, price)

    def opening_allocations(self, state: GridState) -> tuple[tuple[str, Decimal], ...]:
        """Each opening sell's base, out of the start lot into its interval's lot."""
        return tuple((str(i.index), i.base_held) for i in state.intervals if i.side is Side.SELL)

    def apply_fills(
        self,
        state: GridState,
        fills: Sequence[StrategyFill],
        instrument: Instrument,
        config: GridConfig,
        *,
        base_available: Decimal,
    ) -> Decision[GridState]:
        return apply_fills(config, instrument, state, fills, base_available=base_available)

    def funds_to_place(
        self, state: GridState, key: OrderKey, config: GridConfig, instrument: Instrument
    ) -> dict[str, Decimal]:
        return {}  # the start checked the whole grid; each counter-order is paid by its fill

    def on_refused(
        self, state: GridState, key: OrderKey, reason: str, config: GridConfig, instrument: Instrument
    ) -> Decision[GridState] | None:
        return None  # the interval waits without its order; the engine's log says why

    def open_orders(self, state: GridState) -> frozenset[OrderKey] | None:
        return None  # a grid order stays until it fills; only a stop cancels

    def watches_price(self, config: GridConfig) -> bool:
        return has_exit_rules(config)

    def on_price(
        self, state: GridState, price: Decimal, instrument: Instrument, config: GridConfig
    ) -> Decision[GridState] | None:
        return None

    def exit_reason(self, config: GridConfig, price: Decimal, equity: Decimal | None) -> ExitReason | None:
        return exit_reason(config, price, equity)

    def exit_action(self, config: GridConfig, reason: ExitReason) -> ExitAction:
        return exit_action(config, reason)

    def ledger_lot(self, slot: int) -> str:
        return str(slot)

    def leverage(self, config: GridConfig) -> None:
        return None  # spot

    def closes_trip(self, config: GridConfig, side: Side, complete: bool) -> bool:
        """A long grid's round trip ends with a complete sell; a reverse grid's with a buy."""
        closing = Side.SELL if config.direction is Direction.LONG else Side.BUY
        return complete and side is closing

    def milestones(self, config: GridConfig, before: GridState, after: GridState) -> tuple[Milestone, ...]:
        return ()  # a grid's fills are its events (order.filled)


GRID = GridStrategy()
