"""A futures grid over candles on a USDT perpetual: isolated margin, one-way mode, exact `Decimal`.

Every order is the strategy's (`futures_grid.FUTURES_GRID`, through the protocol of
bots/strategies/base.py, as exact mode drives a spot strategy): this module only simulates the
venue around it. The margin arithmetic is `exchanges/perpetuals/margin.py`'s, and the books follow
the paper venue's perpetual (`exchanges/paper/perpetual.py`):

- Start, at the first candle's open: the strategy's `start_trade` fills at market at that open
  (taker fee; long/short open the quantity of every closing level, a neutral grid starts flat);
  then every intent of `initial_state` rests as a limit order (maker fee), reduce-only as the
  intent says.
- Every fill goes to the strategy's `apply_fills`; the orders its decision places rest at once
  (and those it cancels leave the book). A reduce-only fill reduces the position and realises its
  round trip; any other opens or adds to it (one that would flip the position is a bug).
- Each fill that opens moves `margin.position_margin` (initial margin + the fee to close) from the
  free balance into the position margin; a close frees its share of the margin (the last part
  takes what is left). Fees are paid from the free balance; a fee the free balance cannot cover
  is taken from the position margin, as the paper venue does.
- Mark price = the candle path's price (`venue.candle_path`: open -> the nearer extreme -> the
  other -> close), as on the paper venue, which has no separate index. A candle's move from the
  previous close to its open is walked as a leg too (a gap fills what it passed, at each order's
  own price). Orders fill in full when the path touches them, in the order the price meets them.
- Funding at every 00:00, 08:00 and 16:00 UTC: the position held then pays or receives
  `margin.funding_payment(size x mark, rate, side)` at the open of the first candle at or after
  the instant. No funding history ships, so the rate is ASSUMED: a constant, by default Bybit's
  formula with a zero premium (the 0.01% interest baseline per 8 hours). A payment is taken from
  the position margin (isolated), which moves the liquidation price; a receipt goes to the free
  balance. (The paper venue takes a payment from the free balance first.)
- Liquidation: when the path reaches the position's liquidation price
  (`margin.liquidation_price(..., margin=M, fee_rate=taker)`), before any order at the same
  price, the position closes at the bankruptcy price: the whole position margin is lost, every
  order is cancelled and the run ends there.

Grid profit is per round trip: each level's close against the entry it closes (the start's
market price for the levels the start opened), so a round trip earns its grid's width; the
unrealised PnL is the open entries' at the mark. Their sum is the position's PnL at its average
entry, as the exchange books it. The money identity, checked at the end (`check_books`):
grid profit + unrealised - fees - funding paid + funding received - margin lost to liquidation
== equity - investment, equity being free balance + position margin + unrealised.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, ROUND_UP, Decimal

from bots.backtest.exact import EquityPoint, LedgerMismatch
from bots.backtest.venue import candle_path, check_candle
from bots.strategies.base import Decision, OrderIntent, StrategyFill
from bots.strategies.futures_grid import FUTURES_GRID, FuturesGridConfig, FuturesGridState, Mode, Perpetual
from exchanges.base import Candle, OrderType, PositionSide, Side
from exchanges.perpetuals import margin

ZERO = Decimal(0)
# With no premium index, Bybit's formula gives the interest baseline: 0.01% per 8 hours.
ASSUMED_FUNDING_RATE = margin.funding_rate(ZERO)
FUNDING_INTERVAL = timedelta(hours=8)
# The books' precision, the paper venue's (its models' 18 decimal places).
BOOK_PLACES = Decimal("1e-18")


@dataclass(frozen=True)
class PerpOrder:
    id: int
    interval: int
    cycle: int
    side: Side
    price: Decimal
    quantity: Decimal
    reduce_only: bool


@dataclass(frozen=True)
class PerpFill:
    time: datetime  # the open time of the candle it happened in
    leg: int  # 0 the open (or the gap to it), 1 the first extreme, 2 the second, 3 the close
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal  # in USDT
    is_maker: bool
    reduce_only: bool
    interval: int | None  # None: the start's market order
    realised: Decimal  # a close's grid profit; zero for an opening fill
    cycle: int | None = None  # the strategy's cycle of the order that filled


@dataclass(frozen=True)
class Placement:
    """An order the strategy put on the book, and when."""

    time: datetime
    leg: int
    intent: OrderIntent


@dataclass(frozen=True)
class Funding:
    time: datetime  # the funding instant
    mark: Decimal
    rate: Decimal
    side: PositionSide
    size: Decimal
    amount: Decimal  # received; negative: paid


@dataclass(frozen=True)
class Liquidated:
    time: datetime  # the open time of the candle it happened in
    leg: int
    price: Decimal  # the mark that reached the liquidation price
    bankruptcy_price: Decimal  # where the position closed
    side: PositionSide
    size: Decimal
    entry_price: Decimal
    margin_lost: Decimal


@dataclass(frozen=True)
class PerpSummary:
    """What metrics read of the round trips."""

    round_trips: int
    gross_profit: Decimal
    gross_loss: Decimal

    @property
    def profit_factor(self) -> Decimal | None:
        return self.gross_profit / self.gross_loss if self.gross_loss else None


@dataclass(frozen=True)
class Result:
    config: FuturesGridConfig
    perpetual: Perpetual
    investment: Decimal
    start: datetime  # the first candle's open
    end: datetime  # the last candle's close
    started_at: datetime | None
    start_price: Decimal | None
    first_price: Decimal
    last_price: Decimal  # the last close, or the mark the liquidation happened at
    quantity_per_order: Decimal
    fills: tuple[PerpFill, ...]
    placements: tuple[Placement, ...]
    fundings: tuple[Funding, ...]
    equity_curve: tuple[EquityPoint, ...]
    closes_in_range: int
    summary: PerpSummary
    grid_profit: Decimal
    unrealized: Decimal
    fees: Decimal
    funding_paid: Decimal  # positive
    funding_received: Decimal
    funding_rate: Decimal  # assumed, per 8 hours
    liquidation: Liquidated | None
    peak_notional: Decimal  # the largest position value (size x average entry) held
    equity: Decimal
    free_balance: Decimal
    position_side: PositionSide | None  # at the end
    position_size: Decimal
    position_margin: Decimal
    state: FuturesGridState | None = None  # the strategy's at the end

    @property
    def total_pnl(self) -> Decimal:
        return self.equity - self.investment

    @property
    def liquidation_loss(self) -> Decimal:
        return self.liquidation.margin_lost if self.liquidation else ZERO

    @property
    def max_leverage_used(self) -> Decimal:
        """The peak position value over the investment (the margin given)."""
        return (self.peak_notional / self.investment).quantize(Decimal("0.01"), rounding=ROUND_UP)


def funding_instants(after: datetime, until: datetime) -> Iterator[datetime]:
    """The 00/08/16 UTC instants in (after, until]."""
    after = after.astimezone(UTC)
    day = after.replace(hour=0, minute=0, second=0, microsecond=0)
    moment = day + FUNDING_INTERVAL * (after.hour // 8 + 1)
    while moment <= until:
        yield moment
        moment += FUNDING_INTERVAL


def _share(amount: Decimal, part: Decimal, whole: Decimal) -> Decimal:
    """`part`/`whole` of `amount`, rounded down: the last part takes whatever is left, exactly."""
    return amount if part == whole else (amount * part / whole).quantize(BOOK_PLACES, rounding=ROUND_DOWN)


def _sign(side: PositionSide) -> Decimal:
    return Decimal(1) if side is PositionSide.LONG else Decimal(-1)


def _position_side(side: Side) -> PositionSide:
    return PositionSide.LONG if side is Side.BUY else PositionSide.SHORT


def _buy_key(order: PerpOrder) -> tuple[Decimal, int]:
    return order.price, -order.id  # the last is the highest buy, oldest first


def _sell_key(order: PerpOrder) -> tuple[Decimal, int]:
    return -order.price, -order.id  # the last is the lowest sell, oldest first


class _Run:
    def __init__(self, config: FuturesGridConfig, perpetual: Perpetual, funding_rate: Decimal) -> None:
        self.config = config
        self.perpetual = perpetual
        self.instrument = perpetual.instrument
        self.funding_rate = funding_rate
        self.state: FuturesGridState | None = None
        self.placements: list[Placement] = []
        self.quantity = ZERO
        self.free = config.investment
        self.margin = ZERO
        self.side: PositionSide | None = None
        self.size = ZERO
        self.cost = ZERO  # sum of the open entries' price x quantity
        self.entries: dict[int | None, Decimal] = {}  # interval -> its open entry's price
        self.grid_profit = ZERO
        self.fees = ZERO
        self.paid = ZERO
        self.received = ZERO
        self.gross_profit = ZERO
        self.gross_loss = ZERO
        self.round_trips = 0
        self.peak_notional = ZERO
        self.fills: list[PerpFill] = []
        self.fundings: list[Funding] = []
        self.liquidation: Liquidated | None = None
        self._buys: list[PerpOrder] = []
        self._sells: list[PerpOrder] = []
        self._next_id = 1
        self.price = ZERO
        self.time: datetime | None = None
        self.leg = 0

    # Start -------------------------------------------------------------------

    def start(self, candle: Candle) -> None:
        config, perpetual, price = self.config, self.perpetual, candle.open
        self.time, self.leg, self.price = candle.open_time, 0, price
        trade = FUTURES_GRID.start_trade(config, perpetual, price)
        if trade.quantity:
            self._open(_position_side(trade.side), price, trade.quantity)
            fee = trade.quantity * price * self.instrument.taker_fee
            self._pay_fee(fee)
            self._record(
                trade.side,
                price,
                trade.quantity,
                fee,
                is_maker=False,
                reduce_only=False,
                interval=None,
                cycle=None,
                realised=ZERO,
            )
        self.state, intents = FUTURES_GRID.initial_state(config, perpetual, price)
        self.quantity = self.state.quantity_per_order
        for intent in intents:
            if intent.reduce_only:
                self.entries[intent.interval] = price  # the start's market order opened its share
        self._place(intents)

    # Orders ------------------------------------------------------------------

    def _place(self, intents: Sequence[OrderIntent]) -> None:
        for intent in intents:
            if intent.order_type is not OrderType.LIMIT:
                raise LedgerMismatch(f"The futures grid rests limit orders only, not {intent}.")
            order = PerpOrder(
                self._next_id,
                intent.interval,
                intent.cycle,
                intent.side,
                intent.price,
                intent.quantity,
                intent.reduce_only,
            )
            self._next_id += 1
            if intent.side is Side.BUY:
                bisect.insort(self._buys, order, key=_buy_key)
            else:
                bisect.insort(self._sells, order, key=_sell_key)
            assert self.time is not None
            self.placements.append(Placement(self.time, self.leg, intent))

    def _cancel(self, interval: int, cycle: int) -> None:
        for book in (self._buys, self._sells):
            book[:] = [o for o in book if (o.interval, o.cycle) != (interval, cycle)]

    def _carry_out(self, decision: Decision[FuturesGridState]) -> None:
        self.state = decision.state
        for interval, cycle in decision.cancel:
            self._cancel(interval, cycle)
        self._place(decision.place)

    def _fill(self, order: PerpOrder) -> None:
        assert self.state is not None
        self.price = order.price
        fee = order.quantity * order.price * self.instrument.maker_fee
        if order.reduce_only:
            realised = self._close_level(order)
        else:
            realised = ZERO
            self._open(_position_side(order.side), order.price, order.quantity)
            self.entries[order.interval] = order.price
        fill = StrategyFill(
            order.interval, order.cycle, order.side, order.price, order.quantity, fee, self.instrument.quote
        )
        # A futures order is bounded by the position, not by base held: nothing to offer.
        self._carry_out(
            FUTURES_GRID.apply_fills(self.state, [fill], self.perpetual, self.config, base_available=ZERO)
        )
        self._pay_fee(fee)
        self._record(
            order.side,
            order.price,
            order.quantity,
            fee,
            is_maker=True,
            reduce_only=order.reduce_only,
            interval=order.interval,
            cycle=order.cycle,
            realised=realised,
        )

    def _record(
        self,
        side: Side,
        price: Decimal,
        quantity: Decimal,
        fee: Decimal,
        *,
        is_maker: bool,
        reduce_only: bool,
        interval: int | None,
        cycle: int | None,
        realised: Decimal,
    ) -> None:
        assert self.time is not None
        self.fills.append(
            PerpFill(
                self.time,
                self.leg,
                side,
                price,
                quantity,
                fee,
                is_maker,
                reduce_only,
                interval,
                realised,
                cycle,
            )
        )

    # The position ------------------------------------------------------------

    def _open(self, side: PositionSide, price: Decimal, quantity: Decimal) -> None:
        if self.side is not None and self.side is not side:
            # The levels' geometry closes one side before the other opens; a bug otherwise.
            raise LedgerMismatch(f"A {side} entry at {price} while a {self.side} position is held.")
        piece = margin.position_margin(side, price, quantity, self.config.leverage, self.instrument.taker_fee)
        self.side = side
        self.size += quantity
        self.cost += price * quantity
        self.margin += piece
        self.free -= piece
        self.peak_notional = max(self.peak_notional, self.cost)

    def _close_level(self, order: PerpOrder) -> Decimal:
        assert self.side is not None
        assert order.quantity <= self.size, "a reduce-only order reduces"
        entry = self.entries.pop(order.interval)
        realised = _sign(self.side) * (order.price - entry) * order.quantity
        freed = _share(self.margin, order.quantity, self.size)
        self.margin -= freed
        self.free += freed + realised
        self.size -= order.quantity
        self.cost -= entry * order.quantity
        if self.size == 0:
            self.side, self.cost = None, ZERO
        self.grid_profit += realised
        self.round_trips += 1
        if realised > 0:
            self.gross_profit += realised
        elif realised < 0:
            self.gross_loss -= realised
        return realised

    def _pay_fee(self, fee: Decimal) -> None:
        self.fees += fee
        self.free -= fee
        short = -self.free
        if short > 0:  # as the paper venue: the position margin covers what the balance cannot
            taken = min(short, self.margin)
            self.margin -= taken
            self.free += taken

    def entry_price(self) -> Decimal:
        """The average entry, cut against the trader as the paper venue books it."""
        assert self.side is not None
        rounding = ROUND_UP if self.side is PositionSide.LONG else ROUND_DOWN
        return (self.cost / self.size).quantize(BOOK_PLACES, rounding=rounding)

    def liquidation_price(self) -> Decimal | None:
        if self.side is None:
            return None
        return margin.liquidation_price(
            self.side,
            self.entry_price(),
            self.size,
            self.perpetual.tiers,
            margin=self.margin,
            fee_rate=self.instrument.taker_fee,
        )

    def unrealised(self, mark: Decimal) -> Decimal:
        if self.side is None:
            return ZERO
        return _sign(self.side) * (mark * self.size - self.cost)

    def equity(self, mark: Decimal) -> Decimal:
        return self.free + self.margin + self.unrealised(mark)

    # Funding -----------------------------------------------------------------

    def settle_funding(self, instant: datetime) -> None:
        if self.side is None:
            return
        amount = margin.funding_payment(self.size * self.price, self.funding_rate, self.side)
        if amount >= 0:
            self.received += amount
            self.free += amount
        else:
            self.paid -= amount
            # As the paper venue and Bybit settle it: the free balance first, then the position
            # margin (which moves the liquidation price).
            from_free = min(-amount, max(self.free, ZERO))
            from_margin = min(-amount - from_free, self.margin)
            self.margin -= from_margin
            self.free -= -amount - from_margin
        self.fundings.append(Funding(instant, self.price, self.funding_rate, self.side, self.size, amount))

    # Liquidation -------------------------------------------------------------

    def liquidate(self, mark: Decimal) -> None:
        assert self.side is not None
        assert self.time is not None
        entry = self.entry_price()
        bust = margin.bankruptcy_price(
            self.side, entry, self.size, margin=self.margin, fee_rate=self.instrument.taker_fee
        )
        self.liquidation = Liquidated(
            self.time, self.leg, mark, bust, self.side, self.size, entry, self.margin
        )
        self.price = mark
        self._buys.clear()
        self._sells.clear()
        self.margin = ZERO
        self.size = self.cost = ZERO
        self.side = None
        self.entries.clear()

    # The path ----------------------------------------------------------------

    def walk(self, candle: Candle, instants: Sequence[datetime]) -> bool:
        """Walk the candle from the previous close; True when the position was liquidated."""
        self.time = candle.open_time
        for leg, target in enumerate(candle_path(candle)):
            self.leg = leg
            if self._move_to(target):
                return True
            if leg == 0 and instants:
                for instant in instants:
                    self.settle_funding(instant)
                if self._reached(target):
                    self.liquidate(target)
                    return True
        return False

    def quiet(self, candle: Candle) -> bool:
        """Nothing on the book and no liquidation is in the candle's reach (from the previous close)."""
        low, high = min(candle.low, self.price), max(candle.high, self.price)
        if (self._buys and self._buys[-1].price >= low) or (self._sells and self._sells[-1].price <= high):
            return False
        liq = self.liquidation_price()
        if liq is None:
            return True
        return liq < low if self.side is PositionSide.LONG else liq > high

    def _reached(self, mark: Decimal) -> bool:
        liq = self.liquidation_price()
        if liq is None:
            return False
        return mark <= liq if self.side is PositionSide.LONG else mark >= liq

    def _move_to(self, target: Decimal) -> bool:
        """Fill what the move from the current price to `target` meets, in the order it meets it;
        the liquidation price before an order at the same price. True when liquidated."""
        while target != self.price:
            falling = target < self.price
            book = self._buys if falling else self._sells
            order = (
                book[-1]
                if book and (book[-1].price >= target if falling else book[-1].price <= target)
                else None
            )
            liq = self._liquidation_in_reach(target, falling)
            if liq is not None and (order is None or (liq >= order.price if falling else liq <= order.price)):
                # Already past it (a fill's new margin can put it behind the price): liquidated here.
                self.liquidate(min(liq, self.price) if falling else max(liq, self.price))
                return True
            if order is None:
                break
            self._fill(book.pop())
        self.price = target
        return False

    def _liquidation_in_reach(self, target: Decimal, falling: bool) -> Decimal | None:
        """The liquidation price if a move to `target` reaches it: a long's falling, a short's rising."""
        liq = self.liquidation_price()
        if liq is None or falling != (self.side is PositionSide.LONG):
            return None
        return liq if (liq >= target if falling else liq <= target) else None

    # Checks ------------------------------------------------------------------

    def check_books(self, mark: Decimal) -> None:
        unrealised = self.unrealised(mark)
        lost = self.liquidation.margin_lost if self.liquidation else ZERO
        books = self.grid_profit + unrealised - self.fees - self.paid + self.received - lost
        equity = self.equity(mark)
        if books != equity - self.config.investment:
            raise LedgerMismatch(
                f"grid profit {self.grid_profit} + unrealised {unrealised} - fees {self.fees} - funding "
                f"paid {self.paid} + received {self.received} - margin lost {lost} != equity {equity} - "
                f"investment {self.config.investment}"
            )
        if self.side is not None and self.size != len(self.entries) * self.quantity:
            raise LedgerMismatch(f"The position is {self.size}, its open levels {len(self.entries)}.")


def run(
    config: FuturesGridConfig,
    perpetual: Perpetual,
    candles: Sequence[Candle],
    *,
    funding_rate: Decimal = ASSUMED_FUNDING_RATE,
    progress: Callable[[int, int], None] | None = None,
) -> Result:
    """Backtest `config` over `candles` (in time order). The caller has validated `config` at the
    first candle's open (`futures_grid.validate`)."""
    if not candles:
        raise ValueError("A backtest needs at least one candle.")
    sim = _Run(config, perpetual, funding_rate)
    lower, upper = config.lower_price, config.upper_price
    curve: list[EquityPoint] = []
    in_range = 0
    total = len(candles)
    report_every = max(1, total // 100) if progress is not None else total + 1
    previous: datetime | None = None
    for walked, candle in enumerate(candles):
        if walked % report_every == 0 and progress is not None:
            progress(walked, total)
        check_candle(candle)
        if previous is None:
            sim.start(candle)
            instants: list[datetime] = []
        else:
            instants = list(funding_instants(previous, candle.open_time))
        previous = candle.open_time
        if not instants and sim.quiet(candle):
            sim.time, sim.leg, sim.price = candle.open_time, 3, candle.close
            liquidated = False
        else:
            liquidated = sim.walk(candle, instants)
        mark = sim.price
        curve.append(EquityPoint(candle.open_time, mark, sim.equity(mark), sim.unrealised(mark)))
        if lower <= mark <= upper:
            in_range += 1
        if liquidated:
            break
    sim.check_books(sim.price)
    last = candles[len(curve) - 1]
    step = candles[-1].open_time - candles[-2].open_time if len(candles) > 1 else timedelta(0)
    return Result(
        config=config,
        perpetual=perpetual,
        investment=config.investment,
        start=candles[0].open_time,
        end=last.open_time + step,
        started_at=candles[0].open_time,
        start_price=candles[0].open,
        first_price=candles[0].open,
        last_price=sim.price,
        quantity_per_order=sim.quantity,
        fills=tuple(sim.fills),
        placements=tuple(sim.placements),
        fundings=tuple(sim.fundings),
        equity_curve=tuple(curve),
        closes_in_range=in_range,
        summary=PerpSummary(sim.round_trips, sim.gross_profit, sim.gross_loss),
        grid_profit=sim.grid_profit,
        unrealized=sim.unrealised(sim.price),
        fees=sim.fees,
        funding_paid=sim.paid,
        funding_received=sim.received,
        funding_rate=funding_rate,
        liquidation=sim.liquidation,
        peak_notional=sim.peak_notional,
        equity=sim.equity(sim.price),
        free_balance=sim.free,
        position_side=sim.side,
        position_size=sim.size,
        position_margin=sim.margin,
        state=sim.state,
    )


__all__ = ["ASSUMED_FUNDING_RATE", "Mode", "Result", "run"]
