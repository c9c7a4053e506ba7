"""Crash injection for the engine's tests: a killable worker, a movable clock, and the books' audit.

The worker is "killed" by `WorkerKilled`, a `BaseException`, so no `except Exception` or
`except ExchangeError` in the engine can swallow it: like a SIGKILL, it ends the tick where it
is. Kills come from the outermost seams only: the exchange (a wrapper around the paper venue)
and the database driver (Django's `execute_wrapper`), never from inside our code.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

from django.db import connection
from django.utils import timezone

from bots import engine, ids
from bots.models import Bot, BotStatus
from exchanges.base import (
    Balance,
    Candle,
    Exchange,
    Fill,
    FundingPayment,
    FundingRate,
    Instrument,
    InstrumentKind,
    KeyPermissions,
    OrderRequest,
    OrderState,
    Position,
    Ticker,
)
from exchanges.base import OrderStatus as VenueStatus
from exchanges.paper.models import PaperBalance, PaperFill, PaperOrder, PaperPosition
from exchanges.perpetuals.margin import RiskTier
from exchanges.registry import exchange_for_account
from trading.models import LIVE_STATUSES, Order, OrderPurpose, OrderStatus
from trading.positions import PositionLedger

T = TypeVar("T")
SPOT = InstrumentKind.SPOT


class WorkerKilled(BaseException):
    """The worker process died here."""


# Where a tick can be killed. The first three are named steps of a tick; the last three sweep
# every exchange call and every SQL statement our code issues, so no point is left out.
BEFORE_SEND = "before_send"  # place_order called, nothing reached the venue
REPLY_LOST = "reply_lost"  # the venue accepted the order; its reply never came back
MID_FILL_BATCH = "mid_fill_batch"  # inside the transaction recording one fill of a batch
AFTER_COMMIT = "after_commit"  # just after one of our transactions committed (where publishing runs)
ANY_EXCHANGE_CALL = "any_exchange_call"  # before or after any call to the venue
ANY_STATEMENT = "any_statement"  # before any SQL statement our code sends
STEPS = (BEFORE_SEND, REPLY_LOST, MID_FILL_BATCH, AFTER_COMMIT, ANY_EXCHANGE_CALL, ANY_STATEMENT)

_SAVEPOINT_SQL = re.compile(r"^\s*(SAVEPOINT|RELEASE SAVEPOINT|ROLLBACK TO SAVEPOINT)\b", re.IGNORECASE)
_RELEASE_SQL = re.compile(r"^\s*RELEASE SAVEPOINT\b", re.IGNORECASE)
_ROLLBACK_SQL = re.compile(r"^\s*ROLLBACK TO SAVEPOINT\b", re.IGNORECASE)


@dataclass(frozen=True)
class KillPlan:
    step: str
    ordinal: int  # the n-th point of that step in the tick (1-based)


@dataclass
class Injector:
    """The plan for the tick in progress; raises `WorkerKilled` at the planned point.

    `baseline` is the depth of atomic blocks the test itself holds, so that a deeper
    block is one of the engine's transactions and a release at the baseline is its commit.
    """

    plan: KillPlan | None = None
    baseline: int = 0
    seen: Counter[str] = field(default_factory=Counter)
    fired: KillPlan | None = None
    in_venue: bool = False  # statements the venue itself runs are not our worker's
    commit_just_released: bool = False
    rolled_back: bool = False  # Django releases a savepoint after rolling back to it, too

    def arm(self, plan: KillPlan | None) -> None:
        self.plan, self.fired, self.seen = plan, None, Counter()
        self.baseline = len(connection.savepoint_ids)
        self.commit_just_released = self.rolled_back = False

    def disarm(self) -> None:
        self.plan = None

    def in_our_transaction(self) -> bool:
        return connection.in_atomic_block and len(connection.savepoint_ids) > self.baseline

    def point(self, step: str) -> None:
        if self.plan is None or self.fired is not None or step != self.plan.step:
            return
        self.seen[step] += 1
        if self.seen[step] == self.plan.ordinal:
            self.fired = self.plan
            raise WorkerKilled(f"killed at {step} #{self.plan.ordinal}")

    def statement(self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any) -> Any:
        """Django `execute_wrapper`: a kill before any statement of ours, or right after a commit."""
        if self.plan is not None and not self.in_venue:
            if _SAVEPOINT_SQL.match(sql):
                if _ROLLBACK_SQL.match(sql):
                    self.rolled_back = True
                elif _RELEASE_SQL.match(sql):
                    if len(connection.savepoint_ids) == self.baseline:
                        # The engine's outermost block just ended: committed, unless it rolled back.
                        self.commit_just_released = not self.rolled_back
                    self.rolled_back = False
            else:
                if self.commit_just_released:
                    self.commit_just_released = False
                    self.point(AFTER_COMMIT)
                self.point(ANY_STATEMENT)
        return execute(sql, params, many, context)


class FaultyExchange(Exchange):
    """The paper venue, with a worker that may die around any call. Also records each call."""

    def __init__(self, inner: Exchange, injector: Injector, recorder: CallRecorder | None = None) -> None:
        self.inner, self.injector, self.recorder = inner, injector, recorder
        self.name = inner.name
        self.supports_perpetuals = inner.supports_perpetuals
        self.tick_id = object()

    def _call(self, method: str, call: Callable[[], T]) -> T:
        self.injector.point(ANY_EXCHANGE_CALL)
        if self.recorder is not None:
            self.recorder.enter(self.tick_id, method)
        self.injector.in_venue = True
        try:
            result = call()
        finally:
            self.injector.in_venue = False
            if self.recorder is not None:
                self.recorder.exit(self.tick_id, method)
        self.injector.point(ANY_EXCHANGE_CALL)
        return result

    def instruments(self) -> list[Instrument]:
        return self._call("instruments", self.inner.instruments)

    def instrument(self, symbol: str) -> Instrument:
        # The engine asks for the instrument inside the transaction that records a grid fill.
        if self.injector.in_our_transaction():
            self.injector.point(MID_FILL_BATCH)
        return self._call("instrument", lambda: self.inner.instrument(symbol))

    def ticker(self, symbol: str) -> Ticker:
        return self._call("ticker", lambda: self.inner.ticker(symbol))

    def candles(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
        return self._call("candles", lambda: self.inner.candles(symbol, interval, start, end))

    def balances(self) -> dict[str, Balance]:
        return self._call("balances", self.inner.balances)

    def place_order(self, request: OrderRequest) -> OrderState:
        self.injector.point(BEFORE_SEND)
        state = self._call("place_order", lambda: self.inner.place_order(request))
        self.injector.point(REPLY_LOST)
        return state

    def cancel_order(self, symbol: str, *, client_order_id: str, kind: InstrumentKind = SPOT) -> None:
        cancel = self.inner.cancel_order
        self._call("cancel_order", lambda: cancel(symbol, client_order_id=client_order_id, kind=kind))

    def cancel_all_orders(self, symbol: str, *, kind: InstrumentKind = SPOT) -> list[str]:
        return self._call("cancel_all_orders", lambda: self.inner.cancel_all_orders(symbol, kind=kind))

    def open_orders(self, symbol: str | None = None, *, kind: InstrumentKind = SPOT) -> list[OrderState]:
        return self._call("open_orders", lambda: self.inner.open_orders(symbol, kind=kind))

    def order(self, symbol: str, client_order_id: str, *, kind: InstrumentKind = SPOT) -> OrderState:
        return self._call("order", lambda: self.inner.order(symbol, client_order_id, kind=kind))

    def order_history(self, symbol: str, limit: int = 50, *, kind: InstrumentKind = SPOT) -> list[OrderState]:
        return self._call("order_history", lambda: self.inner.order_history(symbol, limit, kind=kind))

    def fills_since(
        self,
        symbol: str,
        since: datetime | None,
        *,
        client_order_prefix: str | None = None,
        kind: InstrumentKind = SPOT,
    ) -> list[Fill]:
        return self._call(
            "fills_since",
            lambda: self.inner.fills_since(symbol, since, client_order_prefix=client_order_prefix, kind=kind),
        )

    def check_api_key(self) -> KeyPermissions:
        return self._call("check_api_key", self.inner.check_api_key)

    # A perpetual's calls: the engine's futures bots reach them through `exchanges.linear`.

    def perpetual_instrument(self, symbol: str) -> Instrument:
        if self.injector.in_our_transaction():
            self.injector.point(MID_FILL_BATCH)
        return self._call("perpetual_instrument", lambda: self.inner.perpetual_instrument(symbol))

    def positions(self, symbol: str | None = None) -> list[Position]:
        return self._call("positions", lambda: self.inner.positions(symbol))

    def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        self._call("set_leverage", lambda: self.inner.set_leverage(symbol, leverage))

    def set_one_way_mode(self, symbol: str) -> None:
        self._call("set_one_way_mode", lambda: self.inner.set_one_way_mode(symbol))

    def mark_price(self, symbol: str) -> Decimal:
        return self._call("mark_price", lambda: self.inner.mark_price(symbol))

    def funding_history(self, symbol: str, since: datetime | None = None) -> list[FundingRate]:
        return self._call("funding_history", lambda: self.inner.funding_history(symbol, since))

    def funding_payments(self, symbol: str, since: datetime | None = None) -> list[FundingPayment]:
        return self._call("funding_payments", lambda: self.inner.funding_payments(symbol, since))

    def risk_tiers(self, symbol: str) -> tuple[RiskTier, ...]:
        return self._call("risk_tiers", lambda: self.inner.risk_tiers(symbol))


class CallRecorder:
    """Every venue call of every tick, in one global order, to prove two ticks never interleave.

    `hold` keeps each call open a little, widening the window in which an overlap would show.
    """

    def __init__(self, hold: float = 0.0) -> None:
        self.hold = hold
        self.events: list[tuple[int, str, str]] = []  # (tick, "enter"/"exit", method)
        self._ticks: dict[object, int] = {}
        self._active: set[int] = set()
        self.overlaps: list[tuple[int, ...]] = []
        self._lock = threading.Lock()

    def enter(self, tick: object, method: str) -> None:
        with self._lock:
            number = self._ticks.setdefault(tick, len(self._ticks))
            self._active.add(number)
            if len(self._active) > 1:
                self.overlaps.append(tuple(sorted(self._active)))
            self.events.append((number, "enter", method))
        time.sleep(self.hold)

    def exit(self, tick: object, method: str) -> None:
        with self._lock:
            number = self._ticks[tick]
            self._active.discard(number)
            self.events.append((number, "exit", method))

    @property
    def ticks(self) -> int:
        return len(self._ticks)

    def interleaved(self) -> list[int]:
        """Ticks whose calls resumed after another tick had called in between."""
        finished: set[int] = set()
        current: int | None = None
        bad = []
        for number, _, _ in self.events:
            if number != current:
                if number in finished:
                    bad.append(number)
                if current is not None:
                    finished.add(current)
                current = number
        return bad


class Clock:
    """`timezone.now` plus an offset that only grows: lets leases expire and orders age."""

    def __init__(self) -> None:
        self.real_now = timezone.now
        self.offset = timedelta(0)

    def now(self) -> datetime:
        return self.real_now() + self.offset

    def advance(self, delta: timedelta) -> None:
        self.offset += delta


# The audit ------------------------------------------------------------------------

_VENUE_TO_OURS = {
    VenueStatus.NEW.value: OrderStatus.OPEN,
    VenueStatus.PARTIALLY_FILLED.value: OrderStatus.PARTIALLY_FILLED,
    VenueStatus.FILLED.value: OrderStatus.FILLED,
    VenueStatus.CANCELLED.value: OrderStatus.CANCELLED,
    VenueStatus.REJECTED.value: OrderStatus.REJECTED,
}
_ATTEMPT = re.compile(r"-a\d+$")


def books_problems(bot: Bot, *, quote_start: Decimal) -> list[str]:
    """Everything that disagrees between the bot's books and the venue; empty when all is exact.

    The paper account belongs to this bot alone and started with `quote_start` USDT and no base.
    """
    bot.refresh_from_db()
    account = bot.exchange_account.paper_account
    assert account is not None
    prefix = ids.bot_prefix(bot.pk, bot.run)
    problems: list[str] = []

    venue_orders = list(PaperOrder.objects.filter(account=account, client_order_id__startswith=prefix))
    ours = {order.client_order_id: order for order in Order.objects.filter(bot=bot)}

    # No duplicate order: each client id at most once, and each intent (retries aside) at most once.
    for client_id, count in Counter(o.client_order_id for o in venue_orders).items():
        if count > 1:
            problems.append(f"{client_id} is on the venue {count} times")
    # A post-only order the venue refused is on it, rejected: its next attempt is the same intent.
    accepted = [o for o in venue_orders if o.status != VenueStatus.REJECTED.value]
    for intent, count in Counter(_ATTEMPT.sub("", o.client_order_id) for o in accepted).items():
        if count > 1:
            problems.append(f"intent {intent} was placed {count} times on the venue")

    # No orphan: every venue order is ours, in the venue's state, with the venue's fills.
    for venue_order in venue_orders:
        row = ours.get(venue_order.client_order_id)
        if row is None:
            problems.append(f"orphan on the venue: {venue_order.client_order_id}")
            continue
        expected = _VENUE_TO_OURS[venue_order.status]
        if row.status != expected:
            problems.append(f"{row.client_order_id} is {row.status} here, {venue_order.status} on the venue")
        if row.filled_quantity != venue_order.filled_quantity:
            there = venue_order.filled_quantity
            problems.append(f"{row.client_order_id} filled {row.filled_quantity} here, {there} there")
    # Nothing live points at nothing: a row the venue never saw is lost, rejected, never sent, or
    # a grid order planned again that waits for the price to be back on its side.
    on_venue = {o.client_order_id for o in venue_orders}
    waits = {row.pk for row in waiting(bot)}
    for row in ours.values():
        if row.client_order_id in on_venue or row.pk in waits:
            continue
        placeholder = row.purpose == OrderPurpose.START and row.quantity == 0
        never_sent = row.status == OrderStatus.CANCELLED and row.sent_at is None
        if not (placeholder or never_sent or row.status in (OrderStatus.LOST, OrderStatus.REJECTED)):
            problems.append(f"{row.client_order_id} is {row.status} but the venue never saw it")

    # Every fill once: our fill rows are the venue's fills for the bot's orders, one for one.
    venue_fills = {
        f.trade_id: f
        for f in PaperFill.objects.filter(account=account, order__client_order_id__startswith=prefix)
    }
    our_fills = list(bot.fills.select_related("order"))
    for trade_id, count in Counter(f.trade_id for f in our_fills).items():
        if count > 1:
            problems.append(f"fill {trade_id} recorded {count} times")
    missing = set(venue_fills) - {f.trade_id for f in our_fills}
    extra = {f.trade_id for f in our_fills} - set(venue_fills)
    if missing:
        problems.append(f"{len(missing)} venue fill(s) never recorded")
    if extra:
        problems.append(f"{len(extra)} recorded fill(s) the venue never made")
    for fill in our_fills:
        venue_fill = venue_fills.get(fill.trade_id)
        if venue_fill is not None and (fill.quantity, fill.price, fill.fee) != (
            venue_fill.quantity,
            venue_fill.price,
            venue_fill.fee,
        ):
            problems.append(f"fill {fill.trade_id} differs from the venue's")

    problems.extend(_ledger_problems(bot, our_fills, quote_start))
    problems.extend(_grid_problems(bot))
    return problems


def waiting(bot: Bot) -> list[Order]:
    """Grid orders planned again after a post-only refusal that the price still keeps back."""
    unsent = Order.objects.filter(
        bot=bot, purpose=OrderPurpose.GRID, status=OrderStatus.PENDING, sent_at__isnull=True, attempt__gt=0
    )
    if not unsent:
        return []
    ticker = exchange_for_account(bot.exchange_account).ticker(bot.symbol)
    return [order for order in unsent if engine.would_take(order, ticker)]


def unsettled(bot: Bot) -> bool:
    """Whether the bot has a pending order a tick would still send or settle."""
    waits = {order.pk for order in waiting(bot)}
    return any(order.pk not in waits for order in Order.objects.filter(bot=bot, status=OrderStatus.PENDING))


def _ledger_problems(bot: Bot, fills: list[Any], quote_start: Decimal) -> list[str]:
    ledger = bot.books
    if ledger is None:
        return [f"{len(fills)} fills but no books"] if fills else []
    problems = []
    price = bot.price_at_start or Decimal(1)
    summary = ledger.summary(price)
    if (
        summary.grid_profit + summary.unrealized_pnl + summary.funding - summary.fees_not_netted
        != summary.equity - summary.investment
    ):
        problems.append(
            "ledger invariant broken: grid profit + unrealised + funding - fees != equity - investment"
        )
    base = sum(
        (f.quantity - (f.fee if f.fee_asset == ledger.base_asset else 0) if f.side == "buy" else -f.quantity)
        for f in fills
    )
    if ledger.base != base:
        problems.append(f"ledger holds {ledger.base} base; the fills imply {base}")
    quote = ledger.investment + sum(
        (
            -(f.quantity * f.price) - (f.fee if f.fee_asset == ledger.quote_asset else 0)
            if f.side == "buy"
            else f.quantity * f.price - (f.fee if f.fee_asset == ledger.quote_asset else 0)
        )
        for f in fills
    )
    if isinstance(ledger, PositionLedger):
        quote += ledger.funding
    if ledger.quote != quote:
        problems.append(f"ledger holds {ledger.quote} quote; the fills imply {quote}")
    if (ledger.buys, ledger.sells) != (
        sum(f.side == "buy" for f in fills),
        sum(f.side == "sell" for f in fills),
    ):
        problems.append("ledger counts a different number of buys or sells than the fills")
    if isinstance(ledger, PositionLedger):
        return problems + _position_problems(bot, ledger, quote_start)
    # Real money: what the venue account holds is exactly what the books say.
    account = bot.exchange_account.paper_account
    held = {b.asset: b.free + b.locked for b in PaperBalance.objects.filter(account=account)}
    if held.get(ledger.base_asset, Decimal(0)) != ledger.base:
        problems.append(f"venue holds {held.get(ledger.base_asset)} base; the books {ledger.base}")
    if held.get(ledger.quote_asset, Decimal(0)) != quote_start - ledger.investment + ledger.quote:
        problems.append(f"venue holds {held.get(ledger.quote_asset)} quote; the books disagree")
    return problems


def _position_problems(bot: Bot, ledger: PositionLedger, quote_start: Decimal) -> list[str]:
    """A perpetual's books against the venue: the same position, and the same equity at the mark
    (the account's USDT with the position's unrealised PnL), up to the venue's entry rounding."""
    account = bot.exchange_account.paper_account
    position = PaperPosition.objects.filter(account=account, symbol=bot.symbol).first()
    size = position.size if position is not None else Decimal(0)
    if size != ledger.base:
        return [f"venue position is {size}; the books hold {ledger.base}"]
    usdt = sum(
        (b.free + b.locked for b in PaperBalance.objects.filter(account=account, asset="USDT")), Decimal(0)
    )
    mark = engine.bot_market(bot).mark_price(bot.symbol)
    unrealised = size * (mark - position.entry_price) if position is not None and size else Decimal(0)
    venue_equity = usdt + unrealised - (quote_start - ledger.investment)
    if abs(venue_equity - ledger.equity(mark)) > Decimal("1e-9"):
        return [f"venue equity is {venue_equity}; the books say {ledger.equity(mark)}"]
    return []


def _grid_problems(bot: Bot) -> list[str]:
    """A running grid holds exactly one live order per interval that has one to hold."""
    if bot.strategy != "grid":
        return []  # other strategies check their own state (bots/tests/test_dca_engine.py)
    state = bot.grid_state
    if state is None or bot.status != BotStatus.RUNNING:
        return []
    live = Counter(
        (o.interval, o.cycle, o.side)
        for o in Order.objects.filter(bot=bot, purpose=OrderPurpose.GRID, status__in=LIVE_STATUSES)
    )
    problems = []
    for interval in state.intervals:
        wanted = 1 if interval.quantity and not interval.complete else 0
        key = (interval.index, interval.cycle, interval.side.value)
        if live[key] != wanted:
            problems.append(f"interval {interval.index} has {live[key]} live orders, wants {wanted}")
    if sum(live.values()) != sum(
        1 for interval in state.intervals if interval.quantity and not interval.complete
    ):
        problems.append("live grid orders that no interval holds")
    return problems


@contextmanager
def statements_watched(injector: Injector) -> Iterator[None]:
    with connection.execute_wrapper(injector.statement):
        yield
