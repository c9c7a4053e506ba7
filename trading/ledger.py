"""A bot's profit and loss, exact in Decimal. Pure Python: no Django.

Holdings are kept as lots, one per grid interval (plus one for the start
trade), each with its base and what that base cost in quote. A buy adds base
net of any fee taken in base; a sell realises its proceeds, net of any fee
taken in quote, against the sold share of its lot's cost.

When a round trip completes with a sell (a long grid), the lot's remaining
cost (the fee dust left below the lot step) is charged to that trip, so a
trip's profit is exactly the published
`sell_qty*sell_price*(1-fee) - buy_qty*buy_price`. A reverse grid's trip
completes with its buy-back, which leaves the lot holding the base it bought:
that base keeps its cost, and the next sell realises against it.

Every cost moved out of a lot moves into realised profit, so at any mark:

    grid profit + unrealised PnL - fees not already netted == equity - investment

exactly. Fees in the base or quote asset are already netted in the holdings;
a fee in any other asset (e.g. a venue token) is carried at its quote value.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal

from exchanges.base import Side
from trading.numbers import plain

START_LOT = "start"
YEAR = timedelta(days=365)
MIN_APR_PERIOD = timedelta(hours=1)
COST_SCALE = Decimal("1e-18")


class LedgerError(ValueError):
    """A fill the books cannot accept, such as selling base a lot does not hold."""


@dataclass(frozen=True)
class LedgerFill:
    side: Side
    price: Decimal
    quantity: Decimal
    fee: Decimal
    fee_asset: str
    lot: str  # the grid interval ("3"), or START_LOT
    completes_round_trip: bool = False
    fee_quote_value: Decimal | None = None  # required for a fee in a third asset


@dataclass
class Lot:
    base: Decimal = Decimal(0)
    cost: Decimal = Decimal(0)
    trip_profit: Decimal = Decimal(0)  # realised since this lot's last completed round trip


@dataclass(frozen=True)
class LedgerSummary:
    grid_profit: Decimal
    unrealized_pnl: Decimal
    fees_not_netted: Decimal
    fees_quote: Decimal  # every fee, valued in quote at the mark
    fees_by_asset: dict[str, Decimal]
    equity: Decimal
    investment: Decimal
    total_pnl: Decimal
    roi: Decimal
    apr: Decimal | None
    base_held: Decimal
    average_cost: Decimal | None
    round_trips: int
    buys: int
    sells: int
    profit_factor: Decimal | None  # None until a round trip has lost money
    # A perpetual's net funding received (negative: paid), already in equity; 0 for spot.
    funding: Decimal = Decimal(0)

    @property
    def fees_netted(self) -> Decimal:
        """Fees paid in the pair's assets: already in grid profit and unrealised PnL."""
        return self.fees_quote - self.fees_not_netted


@dataclass
class Ledger:
    base_asset: str
    quote_asset: str
    investment: Decimal
    quote: Decimal = field(init=False)
    lots: dict[str, Lot] = field(default_factory=dict)
    realized: Decimal = Decimal(0)
    fees_not_netted: Decimal = Decimal(0)
    fees_by_asset: dict[str, Decimal] = field(default_factory=dict)
    buys: int = 0
    sells: int = 0
    round_trips: int = 0
    gross_profit: Decimal = Decimal(0)
    gross_loss: Decimal = Decimal(0)

    def __post_init__(self) -> None:
        self.quote = self.investment

    # Holdings ----------------------------------------------------------------

    @property
    def base(self) -> Decimal:
        return sum((lot.base for lot in self.lots.values()), Decimal(0))

    @property
    def cost(self) -> Decimal:
        return sum((lot.cost for lot in self.lots.values()), Decimal(0))

    def base_in(self, lot: str) -> Decimal:
        return self.lots[lot].base if lot in self.lots else Decimal(0)

    # Fills -------------------------------------------------------------------

    def apply(self, fill: LedgerFill) -> None:
        base_fee, quote_fee = self._split_fee(fill)
        lot = self.lots.setdefault(fill.lot, Lot())
        if fill.side is Side.BUY:
            self._buy(lot, fill, base_fee, quote_fee)
        else:
            self._sell(lot, fill, base_fee, quote_fee)
        if fill.completes_round_trip:
            self._complete_round_trip(lot, charge_remaining_cost=fill.side is Side.SELL)

    def _split_fee(self, fill: LedgerFill) -> tuple[Decimal, Decimal]:
        self.fees_by_asset[fill.fee_asset] = self.fees_by_asset.get(fill.fee_asset, Decimal(0)) + fill.fee
        if fill.fee_asset == self.base_asset:
            return fill.fee, Decimal(0)
        if fill.fee_asset == self.quote_asset:
            return Decimal(0), fill.fee
        if fill.fee and fill.fee_quote_value is None:
            raise LedgerError(f"A fee in {fill.fee_asset} needs its value in {self.quote_asset}.")
        self.fees_not_netted += fill.fee_quote_value or Decimal(0)
        return Decimal(0), Decimal(0)

    def _buy(self, lot: Lot, fill: LedgerFill, base_fee: Decimal, quote_fee: Decimal) -> None:
        spent = fill.quantity * fill.price + quote_fee
        lot.base += fill.quantity - base_fee
        lot.cost += spent
        self.quote -= spent
        self.buys += 1

    def _sell(self, lot: Lot, fill: LedgerFill, base_fee: Decimal, quote_fee: Decimal) -> None:
        leaving = fill.quantity + base_fee
        if leaving > lot.base:
            raise LedgerError(
                f"Selling {plain(leaving)} {self.base_asset} from a lot holding {plain(lot.base)}."
            )
        cost_out = _share_of_cost(lot, leaving)
        proceeds = fill.quantity * fill.price - quote_fee
        self._realize(lot, proceeds - cost_out)
        lot.cost -= cost_out
        lot.base -= leaving
        self.quote += proceeds
        self.sells += 1

    def open_position(self, lot: str, base: Decimal, price: Decimal) -> None:
        """Base committed at the start (a reverse grid), held at `price`: equity is unchanged."""
        holding = self.lots.setdefault(lot, Lot())
        holding.base += base
        holding.cost += base * price
        self.quote -= base * price

    def allocate(self, source: str, target: str, base: Decimal) -> None:
        """Move `base` and its share of cost between lots (start purchase -> the grid's sells)."""
        giving = self.lots.get(source, Lot())
        if base > giving.base:
            raise LedgerError(f"Lot {source} holds {plain(giving.base)}, not {plain(base)}.")
        cost = _share_of_cost(giving, base)
        receiving = self.lots.setdefault(target, Lot())
        giving.base -= base
        giving.cost -= cost
        receiving.base += base
        receiving.cost += cost
        self.lots[source] = giving

    def _complete_round_trip(self, lot: Lot, *, charge_remaining_cost: bool) -> None:
        if charge_remaining_cost:
            # After a closing sell only fee dust below the lot step is left: the trip paid for it.
            self._realize(lot, -lot.cost)
            lot.cost = Decimal(0)
        # After a closing buy the lot holds real base, not dust: charging its cost here would book
        # the whole purchase as a realised loss and carry the base at zero cost.
        profit, lot.trip_profit = lot.trip_profit, Decimal(0)
        self.round_trips += 1
        if profit >= 0:
            self.gross_profit += profit
        else:
            self.gross_loss -= profit

    def _realize(self, lot: Lot, amount: Decimal) -> None:
        self.realized += amount
        lot.trip_profit += amount

    # Reporting ---------------------------------------------------------------

    def unrealized(self, mark: Decimal) -> Decimal:
        return self.base * mark - self.cost

    def equity(self, mark: Decimal) -> Decimal:
        return self.quote + self.base * mark - self.fees_not_netted

    def summary(self, mark: Decimal, *, running_for: timedelta | None = None) -> LedgerSummary:
        equity = self.equity(mark)
        total = equity - self.investment
        roi = total / self.investment if self.investment else Decimal(0)
        base = self.base
        return LedgerSummary(
            grid_profit=self.realized,
            unrealized_pnl=self.unrealized(mark),
            fees_not_netted=self.fees_not_netted,
            fees_quote=self._fees_in_quote(mark),
            fees_by_asset=dict(self.fees_by_asset),
            equity=equity,
            investment=self.investment,
            total_pnl=total,
            roi=roi,
            apr=_annualise(roi, running_for),
            base_held=base,
            average_cost=self.cost / base if base else None,
            round_trips=self.round_trips,
            buys=self.buys,
            sells=self.sells,
            profit_factor=self.gross_profit / self.gross_loss if self.gross_loss else None,
        )

    def _fees_in_quote(self, mark: Decimal) -> Decimal:
        return (
            self.fees_by_asset.get(self.quote_asset, Decimal(0))
            + self.fees_by_asset.get(self.base_asset, Decimal(0)) * mark
            + self.fees_not_netted
        )


def _share_of_cost(lot: Lot, leaving: Decimal) -> Decimal:
    """The cost leaving with `leaving` base, on a fixed scale.

    Cut to COST_SCALE places (the database's scale), so that adding it to
    realised profit and taking it from the lot are both exact.
    """
    if leaving == lot.base:
        return lot.cost
    if not lot.base:
        return Decimal(0)
    return (lot.cost * leaving / lot.base).quantize(COST_SCALE, rounding=ROUND_HALF_EVEN)


def _annualise(roi: Decimal, running_for: timedelta | None) -> Decimal | None:
    if running_for is None or running_for < MIN_APR_PERIOD:
        return None  # an hour's return, annualised, says nothing
    return roi * Decimal(YEAR.total_seconds()) / Decimal(running_for.total_seconds())


def running_time(started_at: datetime | None, now: datetime) -> timedelta | None:
    return now - started_at if started_at is not None else None
