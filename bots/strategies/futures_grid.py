"""The futures grid on a USDT perpetual: configuration, validation and preview.

Pure Python, no Django and no I/O, like the spot grid, whose level arithmetic it reuses
(`grid.grid_lines`, `grid.layout_sides`): `N` grids give `N + 1` price lines and one order per
interval, a buy at the interval's lower line when that line is below the price, else a sell at its
upper line.

Modes (one-way position mode, isolated margin):

- long: the start opens, at market, a long of the quantity of every sell level above the price;
  those sells then close it (reduce-only), and the buys below add to it.
- short: the mirror: the start opens a short of the quantity of every buy level below the price,
  those buys close it (reduce-only), the sells above add to it.
- neutral: starts flat; each buy below opens a long leg and each sell above a short leg. The
  counter-order of a filled level closes its leg (reduce-only). In one-way mode the two legs are
  never held together: the position is long below the start price and short above it.

Sizing. `investment` is the margin in USDT. Every level trades the same base quantity `q` (as the
spot grid's orders do), the largest lot step for which the position margin of every entry (the
start's market order at the reference price and every opening level at its own price), as Bybit
reserves it (initial margin = value / leverage, plus the fee to close), adds up to at most the
investment. So the notional spread across the levels is about investment x leverage. A neutral
grid holds at most one side's entries at a time, so it commits less than the investment. Trading
fees are paid from the balance beside the margin; funding is not counted here.

Orders. The running half of the protocol (`initial_state`, `start_trade`, `apply_fills`) decides
every order, as the spot grid's does, with a position instead of base: a filled entry places its
closing counter-order one line away (reduce-only, `grid.counter_level`), a filled close places the
entry again. The futures backtester (bots/backtest/perpetual.py) only simulates the venue around it.

Live, the engine runs it on the venue's linear market (`instrument_kind`), sets `leverage` and
one-way mode before the start, and books the fills into a position ledger
(trading/positions.py) with the funding the venue settles.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from decimal import ROUND_CEILING, ROUND_DOWN, ROUND_FLOOR, Decimal
from enum import StrEnum

from bots.strategies import grid
from bots.strategies.base import (
    ConfigError,
    Decision,
    ExitAction,
    ExitReason,
    Json,
    Milestone,
    OrderIntent,
    OrderKey,
    StartTrade,
    StrategyFill,
)
from bots.strategies.grid import MAX_GRIDS, MIN_GRIDS, Spacing
from exchanges.base import Instrument, PositionSide, Side, round_to_step
from exchanges.perpetuals import margin
from exchanges.perpetuals.margin import RiskLimitExceeded, RiskTier
from trading.numbers import fixed, plain

NAME = "futures_grid"
DEFAULT_MAX_LEVERAGE = Decimal(20)  # the cap when the caller gives none (the server's setting)
MIN_LEVERAGE = Decimal(1)
# A liquidation price this close outside the range (a fraction of the range's edge) is warned of.
LIQUIDATION_WARNING_DISTANCE = Decimal("0.05")
HIGH_LEVERAGE = Decimal(10)  # above this, the preview warns how small a move loses the margin
MAX_LIQUIDATION_STOP_DISTANCE = Decimal(50)  # percent: further than this is no guard at all


class Mode(StrEnum):
    LONG = "long"
    SHORT = "short"
    NEUTRAL = "neutral"


@dataclass(frozen=True)
class FuturesGridConfig:
    symbol: str
    lower_price: Decimal
    upper_price: Decimal
    grid_count: int
    investment: Decimal  # the margin, in USDT
    leverage: Decimal
    mode: Mode = Mode.LONG
    spacing: Spacing = Spacing.ARITHMETIC
    trigger_price: Decimal | None = None
    take_profit_price: Decimal | None = None
    stop_loss_price: Decimal | None = None
    # Exits by the bot's total PnL, in percent of its margin (`investment`): a take-profit once it
    # has made this much, a stop-loss once it has lost this much (fees and funding counted).
    take_profit_percent: Decimal | None = None
    stop_loss_percent: Decimal | None = None
    # Stop the bot (closing the position) once the mark comes within this percentage of the live
    # liquidation price; None: no automatic stop.
    liquidation_stop_distance: Decimal | None = None


@dataclass(frozen=True)
class Perpetual:
    """What the venue says of the contract: its filters and fees, its risk-limit tiers and the
    highest leverage its leverage filter allows."""

    instrument: Instrument
    tiers: tuple[RiskTier, ...]
    max_leverage: Decimal


# Levels ------------------------------------------------------------------------------------


def _as_spot_grid(config: FuturesGridConfig) -> grid.GridConfig:
    """The spot grid with the same lines, so its level arithmetic serves both."""
    return grid.GridConfig(
        symbol=config.symbol,
        lower_price=config.lower_price,
        upper_price=config.upper_price,
        grid_count=config.grid_count,
        investment=config.investment,
        spacing=config.spacing,
        trigger_price=config.trigger_price,
    )


def grid_lines(config: FuturesGridConfig, instrument: Instrument) -> tuple[Decimal, ...]:
    return grid.grid_lines(_as_spot_grid(config), instrument)


def opens(mode: Mode, side: Side) -> bool:
    """Whether a resting level of `side` opens (or adds to) the position at the start's layout."""
    if mode is Mode.LONG:
        return side is Side.BUY
    if mode is Mode.SHORT:
        return side is Side.SELL
    return True


@dataclass(frozen=True)
class Entry:
    """A fill that opens position: the start's market order, or one opening level filled."""

    side: PositionSide
    price: Decimal
    quantity: Decimal


def _position_side(side: Side) -> PositionSide:
    return PositionSide.LONG if side is Side.BUY else PositionSide.SHORT


def start_entry(
    config: FuturesGridConfig, instrument: Instrument, price: Decimal, quantity: Decimal
) -> Entry | None:
    """Long/short: the market order that opens the quantity of every closing level at `price`."""
    if config.mode is Mode.NEUTRAL:
        return None
    sides = grid.layout_sides(grid_lines(config, instrument), price)
    closing = sum(1 for _, side, _ in sides if not opens(config.mode, side))
    if not closing:
        return None
    side = PositionSide.LONG if config.mode is Mode.LONG else PositionSide.SHORT
    return Entry(side, price, quantity * closing)


def entries(
    config: FuturesGridConfig, instrument: Instrument, price: Decimal, quantity: Decimal
) -> tuple[Entry, ...]:
    """Every fill that opens position: the start's market order first, then each opening level at
    its own price, nearest the start price first (the order a move away from it fills them in)."""
    sides = grid.layout_sides(grid_lines(config, instrument), price)
    levels = sorted(
        (
            Entry(_position_side(side), level_price, quantity)
            for _, side, level_price in sides
            if opens(config.mode, side)
        ),
        key=lambda e: abs(e.price - price),
    )
    start = start_entry(config, instrument, price, quantity)
    return (start, *levels) if start else tuple(levels)


def committed_margin(entries_: Sequence[Entry], leverage: Decimal, fee_rate: Decimal) -> Decimal:
    """What the entries take from the balance into the position margin: per fill, as the venue
    books it, the initial margin plus the fee to close (`margin.position_margin`)."""
    return sum(
        (margin.position_margin(e.side, e.price, e.quantity, leverage, fee_rate) for e in entries_),
        Decimal(0),
    )


def quantity_for_investment(config: FuturesGridConfig, instrument: Instrument, price: Decimal) -> Decimal:
    """The largest equal quantity per level whose entries' position margin fits the investment."""
    if config.leverage <= 0:
        return Decimal(0)
    unit = committed_margin(
        entries(config, instrument, price, Decimal(1)), config.leverage, instrument.taker_fee
    )
    if unit <= 0:
        return Decimal(0)
    quantity = instrument.round_quantity(config.investment / unit, ROUND_DOWN)
    # Each fill's margin rounds up, so the linear estimate can overshoot by a step.
    while quantity > 0 and _margin_at(config, instrument, price, quantity) > config.investment:
        quantity -= instrument.quantity_step
    return max(quantity, Decimal(0))


def _margin_at(
    config: FuturesGridConfig, instrument: Instrument, price: Decimal, quantity: Decimal
) -> Decimal:
    return committed_margin(
        entries(config, instrument, price, quantity), config.leverage, instrument.taker_fee
    )


# Validation --------------------------------------------------------------------------------


def validate(
    config: FuturesGridConfig,
    perpetual: Perpetual,
    price: Decimal,
    *,
    max_leverage: Decimal = DEFAULT_MAX_LEVERAGE,
    cap_owner: str = "this server's limit",
    venue: str = "the exchange",
) -> None:
    """Raise `ConfigError` listing everything a trader must fix, by field.

    `max_leverage` is the caller's cap (the server's or the user's); the venue's own limits come
    from `perpetual` (its leverage filter and the risk-limit tier of the full position)."""
    errors: dict[str, list[str]] = {}

    def add(field_name: str, message: str) -> None:
        errors.setdefault(field_name, []).append(message)

    _check_shape(config, perpetual, max_leverage, cap_owner, add)
    if errors:
        raise ConfigError(errors)
    instrument = perpetual.instrument
    lines = grid_lines(config, instrument)
    if len(set(lines)) != len(lines):
        add(
            "grid_count",
            f"With {config.grid_count} grids some levels fall on the same price at "
            f"{config.symbol}'s tick size of {plain(instrument.tick_size)}. "
            "Use fewer grids or a wider range.",
        )
        raise ConfigError(errors)
    _check_exits(config, add)
    quantity = quantity_for_investment(config, instrument, price)
    _check_minimums(config, instrument, price, quantity, venue, add)
    if not errors:
        _check_maxima(config, instrument, price, quantity, venue, add)
        _check_risk_limit(config, perpetual, price, quantity, add)
    if errors:
        raise ConfigError(errors)


def _check_shape(
    config: FuturesGridConfig,
    perpetual: Perpetual,
    cap: Decimal,
    cap_owner: str,
    add: Callable[[str, str], None],
) -> None:
    if config.lower_price <= 0:
        add("lower_price", "The lower price must be above zero.")
    if config.upper_price <= config.lower_price:
        add("upper_price", "The upper price must be above the lower price.")
    if not MIN_GRIDS <= config.grid_count <= MAX_GRIDS:
        add("grid_count", f"Use between {MIN_GRIDS} and {MAX_GRIDS} grids.")
    if config.investment <= 0:
        add("investment", "The margin to invest must be above zero.")
    most = min(cap, perpetual.max_leverage)
    if not MIN_LEVERAGE <= config.leverage <= most:
        whose = cap_owner if cap < perpetual.max_leverage else f"{config.symbol}'s limit"
        add(
            "leverage",
            f"Choose a leverage from {plain(MIN_LEVERAGE)}x to {plain(most)}x ({whose}).",
        )
    if config.trigger_price is not None and config.trigger_price <= 0:
        add("trigger_price", "The trigger price must be above zero.")
    distance = config.liquidation_stop_distance
    if distance is not None and not 0 < distance <= MAX_LIQUIDATION_STOP_DISTANCE:
        add(
            "liquidation_stop_distance",
            f"Choose a distance above 0% and at most {plain(MAX_LIQUIDATION_STOP_DISTANCE)}%, "
            "or leave it empty for no automatic stop.",
        )


def _check_exits(config: FuturesGridConfig, add: Callable[[str, str], None]) -> None:
    if config.take_profit_percent is not None and config.take_profit_percent <= 0:
        add("take_profit_percent", "The take-profit must be above 0% of the margin.")
    stop_percent = config.stop_loss_percent
    if stop_percent is not None and not 0 < stop_percent < 100:
        add(
            "stop_loss_percent",
            "Choose a stop-loss above 0% and below 100% of the margin: losing all of it is a liquidation.",
        )
    take_profit, stop_loss = config.take_profit_price, config.stop_loss_price
    lower, upper = config.lower_price, config.upper_price
    if stop_loss is not None and stop_loss <= 0:
        add("stop_loss_price", "The stop-loss must be above zero.")
        stop_loss = None
    if take_profit is not None and take_profit <= 0:
        add("take_profit_price", "The take-profit must be above zero.")
        take_profit = None
    if config.mode is Mode.LONG:
        if take_profit is not None and take_profit <= upper:
            add("take_profit_price", "Set the take-profit above the upper price for a long grid.")
        if stop_loss is not None and stop_loss >= lower:
            add("stop_loss_price", "Set the stop-loss below the lower price for a long grid.")
    elif config.mode is Mode.SHORT:
        if take_profit is not None and take_profit >= lower:
            add("take_profit_price", "Set the take-profit below the lower price for a short grid.")
        if stop_loss is not None and stop_loss <= upper:
            add("stop_loss_price", "Set the stop-loss above the upper price for a short grid.")
    else:
        for name, value in (("take_profit_price", take_profit), ("stop_loss_price", stop_loss)):
            if value is not None and lower <= value <= upper:
                add(
                    name,
                    "A neutral grid's exits sit outside the range: above the upper or below the lower price.",
                )


def minimum_quantity(config: FuturesGridConfig, instrument: Instrument, price: Decimal) -> Decimal:
    """The smallest equal quantity whose every level (and the start's order) meets the venue's
    minimum quantity and order value."""
    sides = grid.layout_sides(grid_lines(config, instrument), price)
    smallest = max(instrument.min_quantity_at(level_price) for _, _, level_price in sides)
    start = start_entry(config, instrument, price, Decimal(1))
    if start is not None:
        # The start's market order at `price` carries `start.quantity` levels' worth.
        whole = instrument.min_quantity_at(price) / start.quantity
        smallest = max(smallest, round_to_step(whole, instrument.quantity_step, ROUND_CEILING))
    return smallest


def minimum_investment(config: FuturesGridConfig, instrument: Instrument, price: Decimal) -> Decimal:
    """The margin the smallest valid quantity per level needs, in whole USDT."""
    needed = _margin_at(config, instrument, price, minimum_quantity(config, instrument, price))
    return needed.to_integral_value(rounding=ROUND_CEILING)


def _check_minimums(
    config: FuturesGridConfig,
    instrument: Instrument,
    price: Decimal,
    quantity: Decimal,
    venue: str,
    add: Callable[[str, str], None],
) -> None:
    smallest = minimum_quantity(config, instrument, price)
    if quantity >= smallest:
        return
    needed = minimum_investment(config, instrument, price)
    size = (
        f"{plain(quantity)} {instrument.base}"
        if quantity
        else f"less than {plain(instrument.quantity_step)} {instrument.base}"
    )
    add(
        "investment",
        f"With {config.grid_count} grids at {plain(config.leverage)}x, each order would be "
        f"{size}; {_venue_name(venue)} minimum is "
        f"{plain(instrument.min_quantity)} {instrument.base} and {plain(instrument.min_amount)} "
        f"{instrument.quote} per order. Use fewer grids, more leverage, or a margin of at least "
        f"{plain(needed)} {instrument.quote}.",
    )


def _check_maxima(
    config: FuturesGridConfig,
    instrument: Instrument,
    price: Decimal,
    quantity: Decimal,
    venue: str,
    add: Callable[[str, str], None],
) -> None:
    if quantity > instrument.max_quantity:
        add(
            "investment",
            f"Each order would be {plain(quantity)} {instrument.base}, above {_venue_name(venue)} maximum "
            f"of {plain(instrument.max_quantity)} {instrument.base} per order: lower the margin or the "
            "leverage, or use more grids.",
        )
    opening = start_entry(config, instrument, price, quantity)
    start = opening.quantity if opening else Decimal(0)
    if start > instrument.max_market_quantity:
        add(
            "investment",
            f"The start would open {plain(start)} {instrument.base} at market, above {_venue_name(venue)} "
            f"maximum of {plain(instrument.max_market_quantity)} {instrument.base} per market order: "
            "lower the margin or the leverage.",
        )


def _check_risk_limit(
    config: FuturesGridConfig,
    perpetual: Perpetual,
    price: Decimal,
    quantity: Decimal,
    add: Callable[[str, str], None],
) -> None:
    """The venue caps leverage by the position's value (its risk-limit tier)."""
    for side_entries in _sides(entries(config, perpetual.instrument, price, quantity)):
        value = sum((e.price * e.quantity for e in side_entries), Decimal(0))
        try:
            tier = margin.tier_for(value, perpetual.tiers)
        except RiskLimitExceeded:
            add(
                "investment",
                f"The full position would be worth {fixed(value)} USDT, above the largest risk limit for "
                f"{config.symbol} ({plain(perpetual.tiers[-1].limit)} USDT): "
                "lower the margin or the leverage.",
            )
            return
        if config.leverage > tier.max_leverage:
            add(
                "leverage",
                f"A position worth {fixed(value)} USDT allows at most {plain(tier.max_leverage)}x on "
                f"{config.symbol} (its risk limit): lower the leverage.",
            )
            return


def _venue_name(venue: str) -> str:
    return f"{venue}'s" if venue != "the exchange" else "the exchange's"


# Preview -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class FuturesPreviewLevel:
    price: Decimal
    side: Side | None  # None: the empty line at the price
    quantity: Decimal | None
    reduce_only: bool | None


@dataclass(frozen=True)
class Liquidation:
    """A position once some entries have filled, and where isolated margin liquidates it."""

    side: PositionSide
    size: Decimal
    entry_price: Decimal  # the average of the fills
    margin: Decimal  # the position margin they committed (fee to close included)
    price: Decimal


@dataclass(frozen=True)
class FuturesGridPreview:
    levels: tuple[FuturesPreviewLevel, ...]  # one per price line, low to high
    quantity_per_order: Decimal
    profit_per_grid_min: Decimal  # USDT per round trip of one grid, after maker fees
    profit_per_grid_max: Decimal
    # Per interval, over the margin its opening order ties up (value at the lower line / leverage).
    profit_per_grid_min_fraction: Decimal
    profit_per_grid_max_fraction: Decimal
    initial_margin: Decimal  # position margin once every entry has filled (neutral: both sides')
    margin_at_start: Decimal
    position_at_start: Decimal  # signed: a short is negative
    maintenance_margin_rate: Decimal  # of the tier of the full position's value
    liquidation: Liquidation | None  # after every entry level fills (neutral: its long side)
    liquidation_short_side: Liquidation | None  # neutral only: after every sell above fills
    liquidation_at_start: Liquidation | None
    min_investment: Decimal
    # The first liquidation a one-way move would reach before the next entry level fills, with that
    # level's price; None when every entry fills before its position could be liquidated.
    liquidated_early: tuple[Liquidation, Decimal] | None = None
    warnings: tuple[str, ...] = field(default=())

    @property
    def liquidation_price(self) -> Decimal | None:
        return self.liquidation.price if self.liquidation else None

    @property
    def liquidation_price_short_side(self) -> Decimal | None:
        return self.liquidation_short_side.price if self.liquidation_short_side else None

    @property
    def liquidation_price_at_start(self) -> Decimal | None:
        return self.liquidation_at_start.price if self.liquidation_at_start else None


def preview(config: FuturesGridConfig, perpetual: Perpetual, price: Decimal) -> FuturesGridPreview:
    """What the grid would do at `price`. Call `validate` first to get errors."""
    instrument = perpetual.instrument
    lines = grid_lines(config, instrument)
    quantity = quantity_for_investment(config, instrument, price)
    all_entries = entries(config, instrument, price, quantity)
    opening = start_entry(config, instrument, price, quantity)
    at_start = (opening,) if opening else ()
    sides = _sides(all_entries)
    fee = instrument.taker_fee
    liquidations = [liquidation(group, perpetual, config.leverage) for group in sides]
    long_side = next((liq for liq in liquidations if liq.side is PositionSide.LONG), None)
    short_side = next((liq for liq in liquidations if liq.side is PositionSide.SHORT), None)
    main = long_side if config.mode is not Mode.SHORT else short_side
    profits = profit_per_grid(lines, quantity, instrument.maker_fee)
    returns = returns_on_margin(lines, quantity, instrument.maker_fee, config.leverage)
    largest = max(sides, key=lambda group: sum(e.price * e.quantity for e in group), default=())
    value = sum((e.price * e.quantity for e in largest), Decimal(0))
    result = FuturesGridPreview(
        levels=_levels(config, lines, price, quantity),
        quantity_per_order=quantity,
        profit_per_grid_min=min(profits),
        profit_per_grid_max=max(profits),
        profit_per_grid_min_fraction=min(returns),
        profit_per_grid_max_fraction=max(returns),
        initial_margin=committed_margin(all_entries, config.leverage, fee),
        margin_at_start=committed_margin(at_start, config.leverage, fee),
        position_at_start=sum(
            (e.quantity if e.side is PositionSide.LONG else -e.quantity for e in at_start), Decimal(0)
        ),
        maintenance_margin_rate=_maintenance_rate(value, perpetual.tiers),
        liquidation=main,
        liquidation_short_side=short_side if config.mode is Mode.NEUTRAL else None,
        liquidation_at_start=liquidation(at_start, perpetual, config.leverage) if at_start else None,
        min_investment=minimum_investment(config, instrument, price),
        liquidated_early=_liquidated_early(sides, perpetual, config.leverage),
    )
    return _with_warnings(result, config, price, instrument.tick_size)


def _liquidated_early(
    sides: Sequence[tuple[Entry, ...]], perpetual: Perpetual, leverage: Decimal
) -> tuple[Liquidation, Decimal] | None:
    """Walk each side's entries in the order a move away from the start fills them: the position
    built so far is liquidated first if its liquidation price is reached before the next entry."""
    for group in sides:
        for filled in range(1, len(group)):
            liq = liquidation(group[:filled], perpetual, leverage)
            following = group[filled].price
            if (liq.price >= following) if liq.side is PositionSide.LONG else (liq.price <= following):
                return liq, following
    return None


def _sides(all_entries: Sequence[Entry]) -> list[tuple[Entry, ...]]:
    """The entries by position side, long first: a neutral grid's two legs never coexist."""
    grouped = [tuple(e for e in all_entries if e.side is side) for side in PositionSide]
    return [group for group in grouped if group]


def liquidation(fills: Sequence[Entry], perpetual: Perpetual, leverage: Decimal) -> Liquidation:
    """Isolated margin: the position `fills` build (all one side), at their average entry, with the
    margin they committed (`margin.position_margin` per fill, as the venue books it) and the fee to
    close set aside, through `margin.liquidation_price(..., margin=M, fee_rate=taker fee)` with the
    maintenance rate of the position value's tier. Funding and added margin are not counted."""
    side = fills[0].side
    size = sum((e.quantity for e in fills), Decimal(0))
    entry = sum((e.price * e.quantity for e in fills), Decimal(0)) / size
    fee = perpetual.instrument.taker_fee
    committed = committed_margin(fills, leverage, fee)
    price = margin.liquidation_price(side, entry, size, perpetual.tiers, margin=committed, fee_rate=fee)
    return Liquidation(side=side, size=size, entry_price=entry, margin=committed, price=price)


def _maintenance_rate(value: Decimal, tiers: Sequence[RiskTier]) -> Decimal:
    try:
        return margin.tier_for(value, tiers).maintenance_rate
    except RiskLimitExceeded:
        return tiers[-1].maintenance_rate


def profit_per_grid(lines: Sequence[Decimal], quantity: Decimal, maker_fee: Decimal) -> list[Decimal]:
    """USDT one interval earns per round trip of `quantity` (bought at its lower line and sold at
    its upper one, in either order), both fees at the maker rate and paid in USDT."""
    return [
        quantity * (lines[k + 1] * (1 - maker_fee) - lines[k] * (1 + maker_fee))
        for k in range(len(lines) - 1)
    ]


def returns_on_margin(
    lines: Sequence[Decimal], quantity: Decimal, maker_fee: Decimal, leverage: Decimal
) -> list[Decimal]:
    """Each interval's profit per round trip over the margin its opening order ties up (the order's
    value at the lower line / leverage): a fraction, 0.0123 is 1.23%."""
    if not quantity:
        return [Decimal(0)] * (len(lines) - 1)
    profits = profit_per_grid(lines, quantity, maker_fee)
    return [profit * leverage / (quantity * lines[k]) for k, profit in enumerate(profits)]


def _levels(
    config: FuturesGridConfig, lines: Sequence[Decimal], price: Decimal, quantity: Decimal
) -> tuple[FuturesPreviewLevel, ...]:
    by_line: dict[int, Side] = {}
    for k, side, _ in grid.layout_sides(lines, price):
        by_line[k if side is Side.BUY else k + 1] = side
    return tuple(
        FuturesPreviewLevel(line, by_line[i], quantity, not opens(config.mode, by_line[i]))
        if i in by_line
        else FuturesPreviewLevel(line, None, None, None)
        for i, line in enumerate(lines)
    )


def _with_warnings(
    result: FuturesGridPreview, config: FuturesGridConfig, price: Decimal, tick: Decimal
) -> FuturesGridPreview:
    return replace(result, warnings=tuple(warnings_for(result, config, price, tick)))


def warnings_for(
    result: FuturesGridPreview, config: FuturesGridConfig, price: Decimal, tick: Decimal
) -> list[str]:
    found: list[str] = []
    if not config.lower_price <= price <= config.upper_price:
        where = "below" if price < config.lower_price else "above"
        found.append(f"The price ({plain(price)}) is {where} your range: the grid waits until it returns.")
    early = result.liquidated_early
    if early is not None:
        first, next_level = early
        which = "buy" if first.side is PositionSide.LONG else "sell"
        found.append(
            f"Your position would be liquidated at {_shown(first, tick)} before the {which} at "
            f"{plain(next_level)} fills: lower the leverage or narrow the range."
        )
    for estimate in (result.liquidation, result.liquidation_short_side):
        if estimate is not None:
            found.extend(_liquidation_warnings(estimate, config, tick))
    if result.liquidation is not None and config.stop_loss_price is not None:
        stop, liq_price = config.stop_loss_price, result.liquidation.price
        past = stop <= liq_price if result.liquidation.side is PositionSide.LONG else stop >= liq_price
        if past:
            found.append(
                f"Your stop-loss ({plain(stop)}) is past the liquidation price "
                f"({_shown(result.liquidation, tick)}): "
                "the position would be liquidated before the stop-loss could close it."
            )
    if config.leverage > HIGH_LEVERAGE:
        move = (100 / config.leverage).quantize(Decimal("0.1"), rounding=ROUND_DOWN)
        found.append(
            f"High leverage: at {plain(config.leverage)}x a move of about {plain(move)}% against the "
            "position loses its whole margin."
        )
    if result.profit_per_grid_min <= 0:
        found.append(
            "Some grids are too narrow to cover two trading fees: they would lose money on every trade."
        )
    found.append(FUNDING_NOTE)
    return found


FUNDING_NOTE = "Funding every 8 hours is charged on the position, not included in profit per grid."


def liquidation_in_range(result: FuturesGridPreview, config: FuturesGridConfig) -> Liquidation | None:
    """The estimate (either side's, or an early one) that sits inside the range: starting such a
    grid needs the trader's explicit consent."""
    candidates = [result.liquidation, result.liquidation_short_side]
    if result.liquidated_early is not None:
        candidates.insert(0, result.liquidated_early[0])
    for estimate in candidates:
        if estimate is not None and config.lower_price <= estimate.price <= config.upper_price:
            return estimate
    return None


def distance_to_liquidation(side: PositionSide, mark: Decimal, liquidation_price: Decimal) -> Decimal:
    """How far the mark may move against the position before liquidation, in percent of the mark
    (negative once past it)."""
    room = mark - liquidation_price if side is PositionSide.LONG else liquidation_price - mark
    return room / mark * 100


def _shown(liq: Liquidation, tick: Decimal) -> str:
    """A liquidation price on the tick grid, rounded towards the entry (the side it triggers first)."""
    rounding = ROUND_CEILING if liq.side is PositionSide.LONG else ROUND_FLOOR
    return plain(round_to_step(liq.price, tick, rounding))


def _liquidation_warnings(liq: Liquidation, config: FuturesGridConfig, tick: Decimal) -> list[str]:
    lower, upper = config.lower_price, config.upper_price
    at = _shown(liq, tick)
    if liq.side is PositionSide.LONG:
        if liq.price >= lower:
            return [
                f"Your position would be liquidated at {at}, inside your range ({plain(lower)} to "
                f"{plain(upper)}), once the buys below the price have filled: lower the leverage or "
                "raise the lower price."
            ]
        if liq.price >= lower * (1 - LIQUIDATION_WARNING_DISTANCE):
            return [
                f"Your position would be liquidated at {at}, within {_percent(LIQUIDATION_WARNING_DISTANCE)} "
                f"below your lower price ({plain(lower)}), once the buys below the price have filled."
            ]
        return []
    if liq.price <= upper:
        return [
            f"Your position would be liquidated at {at}, inside your range ({plain(lower)} to "
            f"{plain(upper)}), once the sells above the price have filled: lower the leverage or "
            "lower the upper price."
        ]
    if liq.price <= upper * (1 + LIQUIDATION_WARNING_DISTANCE):
        return [
            f"Your position would be liquidated at {at}, within {_percent(LIQUIDATION_WARNING_DISTANCE)} "
            f"above your upper price ({plain(upper)}), once the sells above the price have filled."
        ]
    return []


def _percent(fraction: Decimal) -> str:
    return f"{plain(fraction * 100)}%"


# Running: the orders ----------------------------------------------------------------------


@dataclass(frozen=True)
class FuturesInterval:
    """One grid interval and the single order it holds. `opening_side` is the side that opens
    position here (long: buy, short: sell, neutral: the side laid out at the start); the other
    side closes what this interval opened, reduce-only."""

    index: int
    side: Side
    price: Decimal
    quantity: Decimal  # of the current order
    opening_side: Side
    filled: Decimal = Decimal(0)
    cycle: int = 0  # bumps with every new order, so client order ids never repeat
    held: Decimal = Decimal(0)  # position this interval opened (its entry's fills) not closed yet

    @property
    def reduce_only(self) -> bool:
        return self.side is not self.opening_side

    @property
    def complete(self) -> bool:
        return self.filled >= self.quantity


@dataclass(frozen=True)
class FuturesGridState:
    lines: tuple[Decimal, ...]
    quantity_per_order: Decimal
    intervals: tuple[FuturesInterval, ...]


def _other(side: Side) -> Side:
    return Side.SELL if side is Side.BUY else Side.BUY


def initial_state(
    config: FuturesGridConfig, instrument: Instrument, price: Decimal
) -> tuple[FuturesGridState, tuple[OrderIntent, ...]]:
    """The grid laid out at `price`, the start's market order done: every level rests, those the
    start opened (long: the sells, short: the buys) as reduce-only closes of their share."""
    quantity = quantity_for_investment(config, instrument, price)
    lines = grid_lines(config, instrument)
    intervals = tuple(
        FuturesInterval(
            index=k,
            side=side,
            price=level_price,
            quantity=quantity,
            opening_side=side if opens(config.mode, side) else _other(side),
            held=Decimal(0) if opens(config.mode, side) else quantity,
        )
        for k, side, level_price in grid.layout_sides(lines, price)
    )
    state = FuturesGridState(lines, quantity, intervals)
    return state, tuple(_intent(interval) for interval in intervals)


def _intent(interval: FuturesInterval) -> OrderIntent:
    return OrderIntent(
        interval.index,
        interval.cycle,
        interval.side,
        interval.price,
        interval.quantity,
        reduce_only=interval.reduce_only,
    )


def start_trade(config: FuturesGridConfig, instrument: Instrument, price: Decimal) -> StartTrade:
    """Long/short open at market the quantity of every closing level (the preview's position at
    start); a neutral grid starts flat."""
    quantity = quantity_for_investment(config, instrument, price)
    opening = start_entry(config, instrument, price, quantity)
    if opening is None:
        return StartTrade(Side.BUY, Decimal(0))
    return StartTrade(Side.BUY if opening.side is PositionSide.LONG else Side.SELL, opening.quantity)


def apply_fills(state: FuturesGridState, fills: Sequence[StrategyFill]) -> Decision[FuturesGridState]:
    """Book the fills into their intervals and plan each completed order's counter-order: a
    filled entry's close one line away (reduce-only, the position it opened), a filled close's
    entry again. Fees are in USDT and move no position."""
    intervals = list(state.intervals)
    place: list[OrderIntent] = []
    for fill in fills:
        interval = intervals[fill.interval]
        if (fill.cycle, fill.side) != (interval.cycle, interval.side):
            continue  # belongs to an order this interval has moved past
        held = interval.held - fill.quantity if interval.reduce_only else interval.held + fill.quantity
        interval = replace(interval, filled=interval.filled + fill.quantity, held=held)
        if interval.complete:
            interval = _counter_order(interval, state)
            place.append(_intent(interval))
        intervals[fill.interval] = interval
    return Decision(replace(state, intervals=tuple(intervals)), tuple(place))


def _counter_order(interval: FuturesInterval, state: FuturesGridState) -> FuturesInterval:
    side, price = grid.counter_level(state.lines, interval.index, interval.side)
    closing = side is not interval.opening_side
    return replace(
        interval,
        side=side,
        price=price,
        quantity=interval.held if closing else state.quantity_per_order,
        filled=Decimal(0),
        cycle=interval.cycle + 1,
    )


def exit_reason(
    config: FuturesGridConfig, price: Decimal, equity: Decimal | None = None
) -> ExitReason | None:
    """Exits by price sit outside the range (validation): one above the upper price is reached by
    a rise to it, one below the lower price by a fall to it, whichever the mode makes it. Exits by
    PnL compare the bot's equity at the mark with its margin."""
    if equity is not None:
        by_pnl = _pnl_exit(config, equity - config.investment)
        if by_pnl is not None:
            return by_pnl
    for reason, level in (
        (ExitReason.TAKE_PROFIT, config.take_profit_price),
        (ExitReason.STOP_LOSS, config.stop_loss_price),
    ):
        if level is not None and (price >= level if level > config.upper_price else price <= level):
            return reason
    return None


def _pnl_exit(config: FuturesGridConfig, pnl: Decimal) -> ExitReason | None:
    if config.take_profit_percent is not None and pnl >= config.investment * config.take_profit_percent / 100:
        return ExitReason.TAKE_PROFIT
    if config.stop_loss_percent is not None and pnl <= -config.investment * config.stop_loss_percent / 100:
        return ExitReason.STOP_LOSS
    return None


def state_to_json(state: FuturesGridState) -> Json:
    return {
        "lines": [str(line) for line in state.lines],
        "quantity_per_order": str(state.quantity_per_order),
        "intervals": [
            {
                "index": i.index,
                "side": i.side.value,
                "price": str(i.price),
                "quantity": str(i.quantity),
                "opening_side": i.opening_side.value,
                "filled": str(i.filled),
                "cycle": i.cycle,
                "held": str(i.held),
            }
            for i in state.intervals
        ],
    }


def state_from_json(data: Json) -> FuturesGridState:
    return FuturesGridState(
        lines=tuple(Decimal(line) for line in data["lines"]),
        quantity_per_order=Decimal(data["quantity_per_order"]),
        intervals=tuple(
            FuturesInterval(
                index=i["index"],
                side=Side(i["side"]),
                price=Decimal(i["price"]),
                quantity=Decimal(i["quantity"]),
                opening_side=Side(i["opening_side"]),
                filled=Decimal(i["filled"]),
                cycle=i["cycle"],
                held=Decimal(i["held"]),
            )
            for i in data["intervals"]
        ),
    )


def _instrument_of(venue_contract: Instrument | Perpetual) -> Instrument:
    return venue_contract.instrument if isinstance(venue_contract, Perpetual) else venue_contract


# JSON and the strategy object --------------------------------------------------------------

_CONFIG_DECIMALS = (
    "lower_price",
    "upper_price",
    "investment",
    "leverage",
    "trigger_price",
    "take_profit_price",
    "stop_loss_price",
    "liquidation_stop_distance",
    "take_profit_percent",
    "stop_loss_percent",
)


def config_to_json(config: FuturesGridConfig) -> Json:
    return {
        key: (str(value) if isinstance(value, Decimal) else value) for key, value in asdict(config).items()
    }


def config_from_json(data: Json) -> FuturesGridConfig:
    values = dict(data)
    for key in _CONFIG_DECIMALS:
        value = values.get(key)
        values[key] = None if value is None else Decimal(str(value))
    values["spacing"] = Spacing(values.get("spacing", Spacing.ARITHMETIC))
    values["mode"] = Mode(values.get("mode", Mode.LONG))
    values["grid_count"] = int(values["grid_count"])
    return FuturesGridConfig(**values)


class FuturesGridStrategy:
    """The futures grid behind the strategy protocol (bots/strategies/base.py). Where the protocol
    passes an instrument, the running half takes the `Instrument` or its `Perpetual`; validation
    and the preview need the `Perpetual` (its risk-limit tiers and leverage filter)."""

    name = NAME
    label = "futures grid"
    replans = False  # its orders stay until they fill; only a stop cancels them
    checks_funds = False  # the start checks the whole margin

    def config_from_json(self, data: Json) -> FuturesGridConfig:
        return config_from_json(data)

    def config_to_json(self, config: FuturesGridConfig) -> Json:
        return config_to_json(config)

    def investment(self, config: FuturesGridConfig) -> Decimal:
        return config.investment

    def validate(
        self,
        config: FuturesGridConfig,
        perpetual: Instrument | Perpetual,
        price: Decimal,
        venue: str,
        *,
        max_leverage: Decimal = DEFAULT_MAX_LEVERAGE,
        cap_owner: str = "this server's limit",
    ) -> None:
        validate(
            config, _perpetual(perpetual), price, max_leverage=max_leverage, cap_owner=cap_owner, venue=venue
        )

    def funds_needed(
        self, config: FuturesGridConfig, instrument: Instrument | Perpetual, price: Decimal
    ) -> dict[str, Decimal]:
        return {_instrument_of(instrument).quote: config.investment}

    def preview(
        self, config: FuturesGridConfig, perpetual: Instrument | Perpetual, price: Decimal
    ) -> FuturesGridPreview:
        return preview(config, _perpetual(perpetual), price)

    def state_to_json(self, state: FuturesGridState) -> Json:
        return state_to_json(state)

    def state_from_json(self, data: Json) -> FuturesGridState:
        return state_from_json(data)

    def start_wait(
        self, config: FuturesGridConfig, price: Decimal, price_when_created: Decimal
    ) -> str | None:
        if grid.trigger_reached(_as_spot_grid(config), price, price_when_created):
            return None
        return (
            f"Waiting for the price to reach the trigger {plain(config.trigger_price)} (now {plain(price)})."
        )

    def start_trade(
        self, config: FuturesGridConfig, instrument: Instrument | Perpetual, price: Decimal
    ) -> StartTrade:
        return start_trade(config, _instrument_of(instrument), price)

    def initial_state(
        self, config: FuturesGridConfig, instrument: Instrument | Perpetual, price: Decimal
    ) -> tuple[FuturesGridState, tuple[OrderIntent, ...]]:
        return initial_state(config, _instrument_of(instrument), price)

    def opening_allocations(self, state: FuturesGridState) -> tuple[tuple[str, Decimal], ...]:
        """The start's position, handed to the levels that close it (position books, signed by
        the start lot's side)."""
        return tuple((str(i.index), i.held) for i in state.intervals if i.reduce_only and i.held)

    def apply_fills(
        self,
        state: FuturesGridState,
        fills: Sequence[StrategyFill],
        instrument: Instrument | Perpetual,
        config: FuturesGridConfig,
        *,
        base_available: Decimal,
    ) -> Decision[FuturesGridState]:
        """`base_available` does not bound a futures order: a close is the position its entry opened."""
        return apply_fills(state, fills)

    def funds_to_place(
        self,
        state: FuturesGridState,
        key: OrderKey,
        config: FuturesGridConfig,
        instrument: Instrument | Perpetual,
    ) -> dict[str, Decimal]:
        return {}

    def on_refused(
        self,
        state: FuturesGridState,
        key: OrderKey,
        reason: str,
        config: FuturesGridConfig,
        instrument: Instrument | Perpetual,
    ) -> Decision[FuturesGridState] | None:
        return None  # the interval waits without its order

    def open_orders(self, state: FuturesGridState) -> frozenset[OrderKey] | None:
        return None  # a grid order stays until it fills; only a stop cancels

    def watches_price(self, config: FuturesGridConfig) -> bool:
        exits = (
            config.take_profit_price,
            config.stop_loss_price,
            config.take_profit_percent,
            config.stop_loss_percent,
        )
        return any(level is not None for level in exits)

    def on_price(
        self,
        state: FuturesGridState,
        price: Decimal,
        instrument: Instrument | Perpetual,
        config: FuturesGridConfig,
    ) -> Decision[FuturesGridState] | None:
        return None

    def exit_reason(
        self, config: FuturesGridConfig, price: Decimal, equity: Decimal | None
    ) -> ExitReason | None:
        return exit_reason(config, price, equity)

    def exit_action(self, config: FuturesGridConfig, reason: ExitReason) -> ExitAction:
        return ExitAction.SELL_BASE  # close the position at market, reduce-only

    def ledger_lot(self, slot: int) -> str:
        return str(slot)

    def leverage(self, config: FuturesGridConfig) -> Decimal:
        return config.leverage

    def closes_trip(self, config: FuturesGridConfig, side: Side, complete: bool) -> bool:
        """Long: a complete sell closes; short: a complete buy. A neutral grid's close is either
        side (a sell below the start price, a buy above it): the side alone cannot tell, so it
        answers False. The live position books (trading/positions.py) do not ask: a trip there is
        a lot back at flat."""
        if config.mode is Mode.NEUTRAL:
            return False
        closing = Side.SELL if config.mode is Mode.LONG else Side.BUY
        return complete and side is closing

    def milestones(
        self, config: FuturesGridConfig, before: FuturesGridState, after: FuturesGridState
    ) -> tuple[Milestone, ...]:
        return ()  # a grid's fills are its events


def _perpetual(venue_contract: Instrument | Perpetual) -> Perpetual:
    if not isinstance(venue_contract, Perpetual):
        raise TypeError(
            "A futures grid is validated and previewed against its Perpetual (tiers and leverage)."
        )
    return venue_contract


FUTURES_GRID = FuturesGridStrategy()
