"""One tick of one bot: reconcile with the exchange, decide, act.

The exchange is the source of truth. Every new fill is recorded exactly
once (unique trade id) in the same transaction as everything it changes:
the order, the ledger, the strategy state and the counter-orders it
triggers, which are committed as `pending` rows. Only then are pending
orders sent, each once. An unknown outcome stays pending until a later
reconcile finds the order by its client id; an order the exchange has still
never seen after LOST_AFTER is marked lost and re-placed under a new id.

A lease on the bot row keeps two ticks of one bot from ever running at once.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, NoReturn

from django.db import IntegrityError, connection, transaction
from django.db.models import F, Model, Q, QuerySet, Sum
from django.utils import timezone

from billing import entitlements
from bots import codec, funds, ids, perpetuals
from bots.live import publish
from bots.models import ACTIVE_STATUSES, Bot, BotEvent, BotEventKind, BotStatus
from bots.rows import from_row
from bots.shortfalls import order_shortfall_message as shortfalls_text
from bots.strategies.base import (
    EXIT_LOT,
    ConfigError,
    Decision,
    ExitReason,
    ExitSale,
    Milestone,
    OrderIntent,
    Strategy,
    StrategyFill,
    exit_sale,
    funds_shortfall,
)
from bots.strategies.registry import strategy_for
from config.wording import wait_in_words
from exchanges.base import (
    AuthError,
    DuplicateClientOrderId,
    Exchange,
    ExchangeError,
    ExchangeUnavailable,
    Fill,
    Instrument,
    InsufficientBalance,
    InvalidOrder,
    InvalidOrderReason,
    OrderNotFound,
    OrderRequest,
    OrderState,
    OrderType,
    PermissionDenied,
    Position,
    RateLimited,
    Side,
    Ticker,
    TimeInForce,
)
from exchanges.base import OrderStatus as VenueStatus
from exchanges.linear import LinearMarket, market_kind
from exchanges.models import ExchangeAccount, ExchangeName
from exchanges.paper.models import PaperAccount, PaperFill, PaperOrder
from exchanges.registry import exchange_for_account
from notifications import limits
from risk import checks as risk_checks
from trading.ledger import START_LOT, Ledger, LedgerFill, LedgerSummary
from trading.models import LIVE_STATUSES, EquitySnapshot, Order, OrderPurpose, OrderStatus
from trading.models import Fill as FillRow
from trading.numbers import plain as figure  # a message's amount: 54,000.5
from trading.positions import PositionLedger

logger = logging.getLogger(__name__)

LEASE = timedelta(seconds=60)
LOST_AFTER = timedelta(seconds=30)
FILLS_OVERLAP = timedelta(minutes=2)
# Fills tell a running bot what it needs each tick; orders the venue ended without a fill
# (cancelled outside Gridwise) are swept for less often, since each sweep reads every open order.
SWEEP_EVERY = timedelta(minutes=1)
MAX_FAILURES = 5
SNAPSHOT_EVERY = timedelta(minutes=1)
# The engine knows no strategy: it asks the bot's own (bots.strategies.registry) what to do.
__all__ = ["EXIT_LOT", "ExitSale", "exit_sale", "run_tick"]
POST_ONLY_REASON = "It would have traded at market (post-only): planned again, to rest on the book."

_VENUE_TO_ORDER = {
    VenueStatus.NEW: OrderStatus.OPEN,
    VenueStatus.PARTIALLY_FILLED: OrderStatus.PARTIALLY_FILLED,
    VenueStatus.FILLED: OrderStatus.FILLED,
    VenueStatus.CANCELLED: OrderStatus.CANCELLED,
    VenueStatus.REJECTED: OrderStatus.REJECTED,
}


class BotHalted(Exception):
    """The bot must go to `error`; the message is for the trader."""


# Leases ----------------------------------------------------------------------


def claim(bot_id: int, *, reschedule_in: timedelta | None = None) -> uuid.UUID | None:
    """Take the bot's lease if it is free or expired: a conditional UPDATE, so only one worker wins."""
    claimed = claim_and_load(bot_id, reschedule_in=reschedule_in)
    return claimed.token if claimed else None


@dataclass
class Claimed:
    """A tick's lease, the bot as the claim left it (exchange account loaded), and whether it is quiet.

    `quiet`: on the paper venue, nothing waits for this bot: no order of its run is pending
    (unsent, or sent with an unknown outcome) and no fill of its orders inside the reconcile's
    window is unbooked. Read in the claim's own statement; a bybit bot is never quiet (only the
    venue can tell what changed there).
    """

    token: uuid.UUID
    bot: Bot
    quiet: bool


def claim_and_load(
    bot_id: int,
    *,
    reschedule_in: timedelta | None = None,
    dispatched_until: datetime | None = None,
    due: datetime | None = None,
    woken_by_fill: bool = False,
) -> Claimed | None:
    """Claim the lease, load the bot with its accounts and ask "anything to do?", in one statement.

    A fill's wake-up (`woken_by_fill`) has something to do by definition: the claim does not
    ask, which spares it a look through the paper account's recent fills.

    The lease is taken only if it is free or expired (a conditional UPDATE: one worker wins).
    A dispatched tick passes `reschedule_in` (the bot's interval): the same UPDATE sets its next
    tick, which the dispatcher had pushed out to DISPATCH_TIMEOUT while the message waited in
    the queue: an interval after `due`, when this tick fell due (see `next_tick`). A bot is so
    never dispatched again while its tick is still queued, and a fill's wake-up that lands
    during this tick (next_tick_at = now) is not overwritten by it.

    `dispatched_until` is the next_tick_at the dispatcher set when it sent this message. If the
    bot's next_tick_at is no longer that, the message is superseded (a tick already ran, a
    wake-up made the bot due again, or the dispatcher re-sent it after its timeout): it does
    not tick, so a queue that fell behind never runs one bot's stale messages back to back.
    """
    token = uuid.uuid4()
    now = timezone.now()
    params: dict[str, Any] = {
        "bot_id": bot_id,
        "active": list(ACTIVE_STATUSES),
        "now": now,
        "lease_until": now + LEASE,
        "token": token,
        "next_tick_at": next_tick(now, reschedule_in, due) if reschedule_in is not None else None,
        "dispatched_until": dispatched_until,
        "paper": ExchangeName.PAPER.value,
        "pending": OrderStatus.PENDING.value,
        "overlap": FILLS_OVERLAP,
    }
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(_claim_sql(ask_quiet=not woken_by_fill), params)
            row = cursor.fetchone()
        *loaded, _, quiet = row or (None, None)
        claimed = Claimed(token, _loaded_bot(loaded), bool(quiet)) if row else None
    else:
        claimed = _claim_and_load_portably(params)
    if claimed is None and dispatched_until is not None:
        # A dispatched tick busy with another: due again at once, so the dispatcher retries it
        # when free (unless this message was superseded: then the bot is already scheduled).
        # A wake-up tries again itself (bots.tasks).
        Bot.objects.filter(pk=bot_id, next_tick_at__gt=now, next_tick_at=dispatched_until).update(
            next_tick_at=now
        )
    return claimed


def next_tick(now: datetime, interval: timedelta, due: datetime | None) -> datetime:
    """An interval after the tick fell due, not after it ran: measured from the run, every
    moment spent in the queue would stretch the interval (1,000 bots on 5 s would tick as if
    on 6). A tick so late that its successor is already due starts the rhythm afresh, so a
    backlog is never answered with back-to-back ticks."""
    if due is not None and due + interval > now:
        return due + interval
    return now + interval


def _claim_and_load_portably(params: dict[str, Any]) -> Claimed | None:
    """The same claim through the ORM, for the embedded SQLite shape: never quiet, so a full tick."""
    now = params["now"]
    claimable = Bot.objects.filter(pk=params["bot_id"], status__in=ACTIVE_STATUSES).filter(
        Q(lease_until__isnull=True) | Q(lease_until__lt=now)
    )
    if params["dispatched_until"] is not None:
        claimable = claimable.filter(next_tick_at=params["dispatched_until"])
    fields = {"lease_until": params["lease_until"], "lease_token": params["token"]}
    if params["next_tick_at"] is not None:
        fields["next_tick_at"] = params["next_tick_at"]
    if not claimable.update(**fields):
        return None
    bot = Bot.objects.select_related("exchange_account__paper_account").get(pk=params["bot_id"])
    return Claimed(params["token"], bot, quiet=False)


_LOADED = (Bot, ExchangeAccount, PaperAccount)


def _loaded_bot(row: Sequence[Any]) -> Bot:
    """The bot, its exchange account and paper account from one row, as select_related builds them."""
    objects: list[Model | None] = []
    for model in _LOADED:
        fields = model._meta.concrete_fields
        values, row = row[: len(fields)], row[len(fields) :]
        no_paper_account = values[0] is None
        objects.append(None if no_paper_account else from_row(model, fields, values))
    bot, account, paper = objects
    assert isinstance(bot, Bot)
    assert isinstance(account, ExchangeAccount)
    account.paper_account = paper  # type: ignore[assignment]
    bot.exchange_account = account
    return bot


# The lease's own statements commit without waiting for the WAL flush (SET LOCAL, this
# transaction only), which is most of their cost. A database crash can lose only such a
# commit and nothing after it: WAL is written in order, so the first durable commit of the
# tick (a fill, a pending order, a send claim) flushes the claim before it. A lost claim or
# release costs at worst one LEASE of waiting; the dispatcher's timeout re-dispatches.
_LEASE_ONLY_COMMIT = "set_config('synchronous_commit', 'off', true)"


@functools.cache
def _claim_sql(*, ask_quiet: bool = True) -> str:
    def columns(alias: str, model: type[Model]) -> str:
        return ", ".join(f'{alias}."{field.column}"' for field in model._meta.concrete_fields)

    bot, account, paper = (model._meta.db_table for model in _LOADED)
    return f"""
        WITH claimed AS (
            UPDATE {bot}
            SET lease_until = %(lease_until)s, lease_token = %(token)s,
                next_tick_at = COALESCE(%(next_tick_at)s, next_tick_at)
            WHERE id = %(bot_id)s AND status = ANY(%(active)s)
                AND (lease_until IS NULL OR lease_until < %(now)s)
                AND (%(dispatched_until)s::timestamptz IS NULL OR next_tick_at = %(dispatched_until)s)
            RETURNING *
        )
        SELECT {columns("claimed", Bot)}, {columns("account", ExchangeAccount)},
            {columns("paper", PaperAccount)},
            {_LEASE_ONLY_COMMIT},
            {_quiet_sql() if ask_quiet else "FALSE"} AS quiet
        FROM claimed
        JOIN {account} account ON account.id = claimed.exchange_account_id
        LEFT JOIN {paper} paper ON paper.id = account.paper_account_id
    """  # noqa: S608


def _quiet_sql() -> str:
    """The quiet test mirrors what _reconcile would find: fills of this run's orders (client id
    prefix, bots.ids.bot_prefix) from FILLS_OVERLAP before the cursor on, not yet booked for the
    account (the unique trade id), and pending orders. Only table and column names from the
    models' meta are formatted in; values are parameters."""
    order, fill = Order._meta.db_table, FillRow._meta.db_table
    paper_fill, paper_order = PaperFill._meta.db_table, PaperOrder._meta.db_table
    return f"""
            account.exchange = %(paper)s
            AND NOT EXISTS (
                SELECT 1 FROM {order} o WHERE o.bot_id = claimed.id AND o.status = %(pending)s
            )
            AND NOT EXISTS (
                SELECT 1 FROM {paper_fill} pf JOIN {paper_order} po ON po.id = pf.order_id
                WHERE pf.account_id = account.paper_account_id AND pf.symbol = claimed.symbol
                    AND (claimed.fills_cursor IS NULL OR pf.time >= claimed.fills_cursor - %(overlap)s)
                    AND starts_with(po.client_order_id, 'gw' || claimed.id || 'r' || claimed.run || '-')
                    AND NOT EXISTS (
                        SELECT 1 FROM {fill} f
                        WHERE f.exchange_account_id = claimed.exchange_account_id
                            AND f.trade_id = pf.trade_id
                    )
            )
    """  # noqa: S608


def release(bot_id: int, token: uuid.UUID) -> None:
    if connection.vendor != "postgresql":
        Bot.objects.filter(pk=bot_id, lease_token=token).update(lease_until=None, lease_token=None)
        return
    with connection.cursor() as cursor:
        cursor.execute(_release_sql(), {"bot_id": bot_id, "token": token})


@functools.cache
def _release_sql() -> str:
    return f"""
        WITH released AS (
            UPDATE {Bot._meta.db_table} SET lease_until = NULL, lease_token = NULL
            WHERE id = %(bot_id)s AND lease_token = %(token)s
            RETURNING id
        )
        SELECT {_LEASE_ONLY_COMMIT} FROM released
    """  # noqa: S608


def run_tick(
    bot_id: int,
    *,
    reschedule_in: timedelta | None = None,
    dispatched_until: datetime | None = None,
    due: datetime | None = None,
) -> bool:
    """Run one tick if no other runs and, if dispatched, its message is current. Returns whether it ran."""
    tick = begin_tick(bot_id, reschedule_in=reschedule_in, dispatched_until=dispatched_until, due=due)
    if tick is None:
        return False
    tick.book()
    tick.finish()
    return True


class StagedTick:
    """A claimed tick in two steps, so that a batch of wake-ups can book every bot's fills
    (which reach the trader's screen as each booking commits) before any bot sends its
    counter-orders. `book` reads the venue and records what it did; `finish` sends what that
    calls for. The lease is released when the tick ends: after `finish`, or when `book` raises.
    """

    def __init__(self, claimed: Claimed) -> None:
        self.bot_id = claimed.bot.pk
        self._token: uuid.UUID | None = claimed.token
        self._steps = _tick_steps(claimed.bot, quiet=claimed.quiet)

    def book(self) -> None:
        try:
            next(self._steps, None)
        except BaseException:
            self._release()
            raise

    def finish(self) -> None:
        try:
            for _ in self._steps:
                pass
        finally:
            self._release()

    def _release(self) -> None:
        if self._token is not None:
            release(self.bot_id, self._token)
            self._token = None


def begin_tick(
    bot_id: int,
    *,
    reschedule_in: timedelta | None = None,
    dispatched_until: datetime | None = None,
    due: datetime | None = None,
    woken_by_fill: bool = False,
) -> StagedTick | None:
    """The bot's tick, claimed (see `claim_and_load`), or None when it may not run now."""
    claimed = claim_and_load(
        bot_id,
        reschedule_in=reschedule_in,
        dispatched_until=dispatched_until,
        due=due,
        woken_by_fill=woken_by_fill,
    )
    return StagedTick(claimed) if claimed is not None else None


def _tick_steps(bot: Bot, *, quiet: bool = False) -> Iterator[None]:
    """The tick, pausing once where a running bot has booked what the venue did and has yet to send."""
    try:
        exchange = bot_market(bot)
        if bot.status == BotStatus.STARTING:
            _starting(bot, exchange)
        elif bot.status == BotStatus.RUNNING:
            yield from _running(bot, exchange, quiet=quiet)
        elif bot.status == BotStatus.STOPPING:
            _stopping(bot, exchange)
    except RateLimited as exc:
        wait = max(1.0, exc.retry_after)
        _note(bot, BotEventKind.WARNING, f"The exchange is rate limiting; waiting {wait_in_words(wait)}.")
        _schedule(bot, timedelta(seconds=wait))
    except ExchangeUnavailable as exc:
        _unavailable(bot, exc)
    except (AuthError, PermissionDenied) as exc:
        _halt(bot, f"The exchange refused the API key: {exc.message} Re-check the key on its account page.")
    except InsufficientBalance as exc:
        _halt(bot, f"Not enough funds on the exchange account: {exc.message}")
    except (BotHalted, perpetuals.Refused) as exc:
        _halt(bot, str(exc))
    else:
        if bot.consecutive_failures:
            Bot.objects.filter(pk=bot.pk).update(consecutive_failures=0)


def bot_market(bot: Bot, *, fail_fast: bool = False) -> Exchange:
    """The market the bot trades on its account's venue: the spot pair, or, for a strategy with
    leverage, the pair's USDT perpetual."""
    venue = exchange_for_account(bot.exchange_account, fail_fast=fail_fast)
    return LinearMarket(venue) if trades_perpetual(bot) else venue


def trades_perpetual(bot: Bot) -> bool:
    strategy = strategy_for(bot)
    return strategy.leverage(strategy.config_from_json(bot.config)) is not None


def _unavailable(bot: Bot, exc: ExchangeUnavailable) -> None:
    failures = bot.consecutive_failures + 1
    Bot.objects.filter(pk=bot.pk).update(consecutive_failures=failures)
    if failures >= MAX_FAILURES:
        _halt(bot, f"The exchange has not answered {failures} times in a row: {exc.message}", transient=True)
        return
    backoff = timedelta(seconds=min(60, 2**failures))
    _note(bot, BotEventKind.WARNING, f"{exc.message} Retrying in {wait_in_words(backoff.total_seconds())}.")
    _schedule(bot, backoff)


def _schedule(bot: Bot, delay: timedelta) -> None:
    Bot.objects.filter(pk=bot.pk).update(next_tick_at=timezone.now() + delay)


def _halt(bot: Bot, reason: str, *, transient: bool = False) -> None:
    from bots.actions import do_fail_bot

    do_fail_bot(bot, reason, transient=transient)


def _note(bot: Bot, kind: str, message: str, **details: object) -> None:
    BotEvent.objects.create(bot=bot, kind=kind, message=message, details=details)


# Starting --------------------------------------------------------------------


def _starting(bot: Bot, exchange: Exchange) -> None:
    _reconcile(bot, exchange)
    bot.refresh_from_db()
    start_order = this_run(bot).filter(purpose=OrderPurpose.START).order_by("-attempt").first()
    if start_order is None:
        _check_plan(bot)
        _begin_start(bot, exchange)
    elif start_order.status == OrderStatus.FILLED:
        _lay_out(bot, exchange)
    elif start_order.status in (OrderStatus.REJECTED, OrderStatus.CANCELLED):
        raise BotHalted(
            f"The start trade did not go through: {start_order.reject_reason or start_order.status}."
        )
    _send_pending(bot, exchange)


def this_run(bot: Bot) -> QuerySet[Order]:
    """The orders of the bot's current run: a stopped bot started again keeps its earlier runs'
    orders (their start trade, their sale) on its books, which must not stand in for this run's."""
    return bot.orders.filter(client_order_id__startswith=ids.bot_prefix(bot.pk, bot.run))


def _check_plan(bot: Bot) -> None:
    """The last guard, before the first order of a run: however the bot came to be starting
    (an automatic restart, a start that raced another), it runs only within its owner's plan."""
    try:
        entitlements.check_engine_start(bot)
    except entitlements.PlanLimitReached as exc:
        limits.start_refused(bot, limits.PLAN, exc.refusal.sentence, limit=exc.refusal.limit.key)
        raise BotHalted(f"{exc.refusal.sentence} See the plans at {exc.refusal.upgrade_url}") from exc
    try:
        risk_checks.check_start(bot, engine=True)
    except risk_checks.RiskLimitReached as exc:
        raise BotHalted(str(exc)) from exc


def _begin_start(bot: Bot, exchange: Exchange) -> None:
    strategy = strategy_for(bot)
    config = strategy.config_from_json(bot.config)
    instrument = exchange.instrument(bot.symbol)
    price = exchange.ticker(bot.symbol).last
    message = strategy.start_wait(config, price, bot.price_at_creation or price)
    if message is not None:
        if bot.status_reason != message:
            Bot.objects.filter(pk=bot.pk).update(status_reason=message)
        return
    leverage = strategy.leverage(config)
    try:
        if leverage is None:
            strategy.validate(config, instrument, price, bot.exchange_account.get_exchange_display())
        else:
            perpetuals.validate_at_start(bot, exchange, config, price)
    except ConfigError as exc:
        raise BotHalted(f"The {strategy.label} no longer fits the market: {exc}") from exc
    trade = strategy.start_trade(config, instrument, price)
    _check_funds(exchange, instrument, strategy.funds_needed(config, instrument, price))
    books = Ledger if leverage is None else PositionLedger
    ledger = books(instrument.base, instrument.quote, strategy.investment(config))
    if isinstance(ledger, PositionLedger) and leverage is not None:
        perpetuals.prepare(bot, exchange, leverage, ledger, timezone.now())
    if trade.committed_base:
        # The trader commits base; the books hold it at today's price.
        ledger.open_position(START_LOT, trade.committed_base, price)
    with transaction.atomic():
        Bot.objects.filter(pk=bot.pk).update(
            price_at_start=price, ledger=codec.ledger_to_json(ledger), status_reason=""
        )
        start_quantity = trade.quantity
        if not start_quantity:
            Order.objects.create(  # nothing to trade at start: a filled placeholder moves the bot on
                bot=bot,
                client_order_id=ids.start_order_id(bot.pk, bot.run),
                symbol=bot.symbol,
                side=Side.BUY,
                order_type=OrderType.MARKET,
                quantity=Decimal(0),
                status=OrderStatus.FILLED,
                purpose=OrderPurpose.START,
            )
            return
        _pend(bot, ids.start_order_id(bot.pk, bot.run), trade.side, None, start_quantity, OrderPurpose.START)


def _check_funds(exchange: Exchange, instrument: Instrument, needed: dict[str, Decimal]) -> None:
    free = {asset: balance.free for asset, balance in exchange.balances().items()}
    shortfalls = funds_shortfall(needed, free)
    if shortfalls:
        raise InsufficientBalance(funds.shortfall_message(shortfalls, instrument))


def _lay_out(bot: Bot, exchange: Exchange) -> None:
    """The start trade is done: the strategy's opening orders are committed, the bot runs."""
    strategy = strategy_for(bot)
    config, instrument = strategy.config_from_json(bot.config), exchange.instrument(bot.symbol)
    price = bot.price_at_start or exchange.ticker(bot.symbol).last
    state, intents = strategy.initial_state(config, instrument, price)
    with transaction.atomic():
        ledger = _locked_ledger(bot)
        for lot, base in strategy.opening_allocations(state):
            ledger.allocate(START_LOT, lot, base)
        for intent in intents:
            _pend_intent(bot, intent)
        running = Bot.objects.filter(pk=bot.pk, status=BotStatus.STARTING).update(
            state=strategy.state_to_json(state),
            ledger=codec.ledger_to_json(ledger),
            status=BotStatus.RUNNING,
            started_at=timezone.now(),
            status_reason="",
        )
        if not running:
            # Stopped while starting: no grid, and the stop must not be overwritten.
            transaction.set_rollback(True)
            return
        _note(
            bot,
            BotEventKind.STATUS,
            f"Running: {len(intents)} {strategy.label} orders placed around {figure(price)}.",
        )
        publish(bot, "status", {"status": BotStatus.RUNNING})


_lay_out_grid = _lay_out  # the name the grid's tests know


# Running ---------------------------------------------------------------------


def _running(bot: Bot, exchange: Exchange, *, quiet: bool = False) -> Iterator[None]:
    now = timezone.now()
    sweep = bot.orders_checked_at is None or now - bot.orders_checked_at >= SWEEP_EVERY
    if quiet and not sweep:
        # The claim found nothing to book, settle or send (Claimed.quiet): the reconcile's
        # reads would come back empty. Exit rules and the snapshot below still run.
        yield
        outcome = Reconciled(changed=False, unsent=[])
    else:
        booked = _book_new_fills(bot, exchange)
        yield  # booked, and on the trader's screen: a batch of wake-ups books its other bots now
        outcome = _settle_live(bot, exchange, changed=booked, follow_finished=sweep)
    if sweep:
        Bot.objects.filter(pk=bot.pk).update(orders_checked_at=now)
    if outcome.changed:
        bot.refresh_from_db()
    # A quiet tick (the common case) changed nothing of ours: the orders it already read are
    # still the ones waiting to be sent, so they are not read again.
    unsent = None if outcome.changed else outcome.unsent
    strategy = strategy_for(bot)
    config = strategy.config_from_json(bot.config)
    snapshot_due = bot.last_snapshot_at is None or now - bot.last_snapshot_at >= SNAPSHOT_EVERY
    if strategy.leverage(config) is not None and _watch_position(bot, exchange, config, snapshot_due):
        return
    watches = strategy.watches_price(config)
    price = exchange.ticker(bot.symbol).last if watches or snapshot_due else None
    if price is not None:
        ledger = bot.books
        reason = strategy.exit_reason(config, price, ledger.equity(price) if ledger else None)
        if reason is not None:
            from bots.actions import do_exit_bot

            do_exit_bot(bot, reason)
            return
    if strategy.replans:
        if watches and price is not None and _replan_on_price(bot, exchange, strategy, config, price):
            unsent = None
        if unsent is None or sweep:
            _cancel_strays(bot, exchange, strategy)
    _send_pending(bot, exchange, unsent)
    if snapshot_due and price is not None:
        _snapshot(bot, price)


def _watch_position(bot: Bot, exchange: Exchange, config: Any, ask_funding: bool) -> bool:
    """A perpetual's tick reads the venue's position (bots.perpetuals); True when the bot stops."""
    books = bot.books
    if not isinstance(books, PositionLedger):
        return False
    position = perpetuals.position_of(exchange, bot.symbol)
    if perpetuals.liquidated(books, position):
        # A close may have filled after this tick read the fills: book it, then look again.
        _book_new_fills(bot, exchange)
        bot.refresh_from_db()
        books = bot.books
        position = perpetuals.position_of(exchange, bot.symbol)
        if isinstance(books, PositionLedger) and perpetuals.liquidated(books, position):
            _liquidated(bot, exchange)
    assert isinstance(books, PositionLedger)
    _keep_books(bot, exchange, position, books, ask_funding=ask_funding)
    stop_distance = getattr(config, "liquidation_stop_distance", None)
    room = perpetuals.liquidation_guard(position, stop_distance)
    if room is None or position is None:
        return False
    from bots.actions import do_exit_bot

    room = room.quantize(Decimal("0.01"))
    _note(
        bot,
        BotEventKind.WARNING,
        f"The mark price ({figure(position.mark_price)}) is {figure(room)}% "
        f"from the liquidation price ({figure(position.liquidation_price or 0)}), within your "
        f"{figure(stop_distance)}%: stopping and closing the position.",
    )
    do_exit_bot(bot, ExitReason.LIQUIDATION_GUARD)
    return True


def _keep_books(
    bot: Bot,
    exchange: Exchange,
    position: Position | None,
    books: PositionLedger,
    *,
    ask_funding: bool = False,
) -> None:
    """Book the funding the venue settled since it was last asked, and keep the position's
    bankruptcy price: both under the bot's lock, once. The venue is asked around each funding
    time, and whenever `ask_funding` (each snapshot, and the stop): a venue may settle late."""
    now = timezone.now()
    due = perpetuals.funding_due(books, now)
    payments = exchange.funding_payments(bot.symbol, books.funding_cursor) if due or ask_funding else None
    fresh = [p for p in payments or () if not books.has_funding(p.payment_id, p.time)]
    if not (due or fresh or perpetuals.note_bankruptcy(position, books)):
        return
    with transaction.atomic():
        ledger = _locked_ledger(bot)
        assert isinstance(ledger, PositionLedger)
        perpetuals.note_bankruptcy(position, ledger)
        booked = perpetuals.book_funding(ledger, payments, now) if payments is not None else []
        Bot.objects.filter(pk=bot.pk).update(ledger=codec.ledger_to_json(ledger))
        for payment in booked:
            verb = "received" if payment.amount >= 0 else "paid"
            _note(
                bot,
                BotEventKind.STATUS,
                f"Funding {verb}: {figure(abs(payment.amount))} {ledger.quote_asset} at a rate of "
                f"{figure(payment.rate * 100)}% on {figure(abs(payment.size))} {ledger.base_asset}.",
            )


def _liquidated(bot: Bot, exchange: Exchange) -> NoReturn:
    """The venue closed the position by itself: the books close it at its bankruptcy price, the
    orders the venue cancelled are settled, and the bot stops in error saying so."""
    with transaction.atomic():
        ledger = _locked_ledger(bot)
        assert isinstance(ledger, PositionLedger)
        price = ledger.bankruptcy_seen or exchange.ticker(bot.symbol).last
        reason = perpetuals.book_liquidation(bot, ledger, price)
        Bot.objects.filter(pk=bot.pk).update(ledger=codec.ledger_to_json(ledger))
        # Closes planned for the position are moot: there is nothing left to close.
        bot.orders.filter(status=OrderStatus.PENDING, sent_at__isnull=True).update(
            status=OrderStatus.CANCELLED, reject_reason="The position was liquidated before it was sent."
        )
    _reconcile(bot, exchange)
    raise BotHalted(reason)


def _replan_on_price(
    bot: Bot, exchange: Exchange, strategy: Strategy[Any, Any], config: Any, price: Decimal
) -> bool:
    """Ask the strategy about the price (a trailing take-profit, a timer); whether it re-planned.
    Asked first on the state this tick read, then again under the bot's lock before committing."""
    instrument = exchange.instrument(bot.symbol)
    if (
        bot.state is None
        or strategy.on_price(strategy.state_from_json(bot.state), price, instrument, config) is None
    ):
        return False
    with transaction.atomic():
        locked = Bot.objects.select_for_update().get(pk=bot.pk)
        if locked.state is None or locked.status != BotStatus.RUNNING:
            return False
        before = strategy.state_from_json(locked.state)
        decision = strategy.on_price(before, price, instrument, config)
        if decision is None:
            return False
        _carry_out(bot, decision)
        Bot.objects.filter(pk=bot.pk).update(state=strategy.state_to_json(decision.state))
        _announce(bot, strategy.milestones(config, before, decision.state))
    return True


def _announce(bot: Bot, milestones: tuple[Milestone, ...]) -> None:
    """Inside the transaction that saves the state they describe: sent once it commits."""
    for milestone in milestones:
        publish(bot, "milestone", {"event": milestone.event, "details": milestone.data})


def _carry_out(bot: Bot, decision: Decision[Any]) -> None:
    """Inside the transaction that saves `decision.state`: its orders are committed as pending,
    and the orders it cancels that were never sent are withdrawn; those already at the venue are
    cancelled there after the commit (`_cancel_strays`), since the state no longer wants them."""
    for intent in decision.place:
        _pend_intent(bot, intent)
    for slot, cycle in decision.cancel:
        bot.orders.filter(
            purpose=OrderPurpose.GRID,
            interval=slot,
            cycle=cycle,
            status=OrderStatus.PENDING,
            sent_at__isnull=True,
        ).update(status=OrderStatus.CANCELLED, reject_reason="Withdrawn by the strategy before it was sent.")


def _cancel_strays(bot: Bot, exchange: Exchange, strategy: Strategy[Any, Any]) -> None:
    """Cancel at the venue every live order of the strategy its state no longer wants: the
    cancels of a cancel-and-replace, or ones a crash interrupted (retried on each sweep)."""
    state = Bot.objects.filter(pk=bot.pk).values_list("state", flat=True).first()
    wanted = strategy.open_orders(strategy.state_from_json(state)) if state is not None else None
    if wanted is None:
        return
    live = bot.orders.filter(purpose=OrderPurpose.GRID, status__in=LIVE_STATUSES).exclude(
        status=OrderStatus.PENDING, sent_at__isnull=True
    )
    for order in live:
        if order.interval is None or (order.interval, order.cycle) in wanted:
            continue
        try:
            exchange.cancel_order(bot.symbol, client_order_id=order.client_order_id)
        except OrderNotFound:
            continue  # filled or gone: the reconcile settles it
        _set_status(order, OrderStatus.CANCELLED)
        _note(bot, BotEventKind.ORDER_CANCELLED, f"Cancelled {_describe(order)}.")


def _snapshot(bot: Bot, price: Decimal) -> None:
    now = timezone.now()
    if bot.last_snapshot_at and now - bot.last_snapshot_at < SNAPSHOT_EVERY:
        return
    ledger = bot.books
    if ledger is None:
        return
    summary = ledger.summary(price)
    with transaction.atomic():  # one commit for the row and its marker
        _record_snapshot(bot, now, price, summary)


def _record_snapshot(bot: Bot, now: datetime, price: Decimal, summary: LedgerSummary) -> None:
    EquitySnapshot.objects.create(
        bot=bot,
        time=now,
        price=price,
        equity=summary.equity,
        grid_profit=summary.grid_profit,
        unrealized_pnl=summary.unrealized_pnl,
    )
    Bot.objects.filter(pk=bot.pk).update(last_snapshot_at=now)


# Stopping --------------------------------------------------------------------


def _stopping(bot: Bot, exchange: Exchange) -> None:
    _reconcile(bot, exchange)
    _cancel_live_orders(bot, exchange)
    _reconcile(bot, exchange)  # fills that raced the cancels
    bot.refresh_from_db()
    if bot.sell_base_on_stop:
        if _exit_needed(bot):
            _pend_exit(bot, exchange)
        # Not only the exit just committed: one a killed tick committed but never sent, or the
        # re-placement of a lost one, is pending too and would otherwise never go out.
        if (
            this_run(bot)
            .filter(purpose=OrderPurpose.EXIT, status=OrderStatus.PENDING, sent_at__isnull=True)
            .exists()
        ):
            _send_pending(bot, exchange)
            return
    if bot.orders.filter(status__in=LIVE_STATUSES).exists():
        return  # a cancel or the exit trade is still settling
    books = bot.books
    if isinstance(books, PositionLedger):
        # The run's last funding, settled since the last tick asked, closes its books.
        _keep_books(bot, exchange, None, books, ask_funding=True)
    from bots.actions import do_mark_stopped

    do_mark_stopped(bot)


def _cancel_live_orders(bot: Bot, exchange: Exchange) -> None:
    for order in bot.orders.filter(status__in=LIVE_STATUSES).exclude(purpose=OrderPurpose.EXIT):
        if order.status == OrderStatus.PENDING and order.sent_at is None:
            _set_status(order, OrderStatus.CANCELLED, "Stopped before it was sent.")
            continue
        try:
            exchange.cancel_order(bot.symbol, client_order_id=order.client_order_id)
        except OrderNotFound:
            pass  # filled or already gone: the reconcile that follows settles it
        else:
            _set_status(order, OrderStatus.CANCELLED)
            _note(bot, BotEventKind.ORDER_CANCELLED, f"Cancelled {_describe(order)}.")


# Stopping at once: the stop path ------------------------------------------------


def stop_now(bot_id: int) -> bool:
    """Cancel a stopping bot's orders at once, on a fail-fast client, outside any tick.

    A tick may be in flight (a lease held, retries under way): the cancels do not wait for it;
    it re-checks the status before every send. Returns True when every cancel was answered:
    the stop's tick then books what raced the cancels, sells the base if asked, and marks the
    bot stopped. When the venue does not answer, the bot goes to error at once, saying how
    many orders may still be open there; those are marked and swept later
    (`settle_unconfirmed`), never waited for.

    A bot with nothing on the venue and nothing to sell is stopped here, without asking the
    venue at all; one with only the base to sell first hears from the venue on the fail-fast
    client, so a venue that is down ends the stop in error at once, not after a tick's backoff.
    """
    bot = (
        Bot.objects.select_related("exchange_account__paper_account")
        .filter(pk=bot_id, status=BotStatus.STOPPING)
        .first()
    )
    if bot is None:
        return False
    live = bot.orders.filter(status__in=LIVE_STATUSES).exclude(purpose=OrderPurpose.EXIT).order_by("id")
    at_venue = [
        order
        for order in live
        if not (order.status == OrderStatus.PENDING and order.sent_at is None and _withdraw_unsent(order))
    ]
    if not at_venue and _stopped_without_venue(bot):
        return False
    failure: ExchangeError | None = None
    exchange: Exchange | None = None
    try:
        exchange = bot_market(bot, fail_fast=True)
    except ExchangeError as exc:
        failure = exc
    not_confirmed: list[Order] = []
    for order in at_venue:
        if failure is not None or exchange is None:
            # The venue did not answer: the rest are not sent into more timeouts.
            not_confirmed.append(order)
            continue
        try:
            exchange.cancel_order(bot.symbol, client_order_id=order.client_order_id)
        except OrderNotFound:
            not_confirmed.append(order)  # filled, gone, or still on its way: the tick or the sweep settles it
        except ExchangeError as exc:
            failure = exc
            not_confirmed.append(order)
        else:
            _set_status(order, OrderStatus.CANCELLED)
            _note(bot, BotEventKind.ORDER_CANCELLED, f"Cancelled {_describe(order)}.")
    if failure is None and exchange is not None and not at_venue:
        failure = _venue_silence(bot, exchange)
    if failure is None:
        return True
    _stop_unconfirmed(bot, not_confirmed, failure)
    return False


def _venue_silence(bot: Bot, exchange: Exchange) -> ExchangeError | None:
    """Nothing was cancelled, so the venue has not spoken yet: the stop's tick needs it (to sell
    the base, or settle the sale under way), and with its retries it would wait for it."""
    try:
        exchange.ticker(bot.symbol)
    except ExchangeError as exc:
        return exc
    return None


def _stopped_without_venue(bot: Bot) -> bool:
    """Stop a bot with no order left on our books and no base to sell, without its venue.

    Under the bot's row lock, and only while no tick holds its lease: a tick's writes (a fill,
    a start trade committed as pending) lock that row too, so none slips in between."""
    from bots.actions import transition

    now = timezone.now()
    with transaction.atomic():
        locked = (
            Bot.objects.select_for_update()
            .filter(pk=bot.pk, status=BotStatus.STOPPING)
            .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
            .first()
        )
        if locked is None or locked.orders.filter(status__in=LIVE_STATUSES).exists():
            return False
        books = locked.books
        if locked.sell_base_on_stop and books is not None and books.base != 0:
            return False
        venue = bot.exchange_account.get_exchange_display()
        unsold = " and no base to sell" if locked.sell_base_on_stop else ""
        transition(
            locked,
            BotStatus.STOPPED,
            allowed_from=(BotStatus.STOPPING,),
            message=f"Stopped: no order was open{unsold}, so {venue} was not asked.",
            stopped_at=now,
            status_reason="",
            consecutive_failures=0,
        )
    return True


def _withdraw_unsent(order: Order) -> bool:
    """Cancel an order never sent, unless a send claimed it meanwhile (then it is cancelled at the venue)."""
    return bool(
        Order.objects.filter(pk=order.pk, sent_at__isnull=True).update(
            status=OrderStatus.CANCELLED, reject_reason="Stopped before it was sent."
        )
    )


def _stop_unconfirmed(bot: Bot, orders: list[Order], failure: ExchangeError) -> None:
    from bots.actions import do_fail_bot

    venue = bot.exchange_account.get_exchange_display()
    now = timezone.now()
    Order.objects.filter(pk__in=[order.pk for order in orders], cancel_unconfirmed_since__isnull=True).update(
        cancel_unconfirmed_since=now
    )
    count = len(orders)
    if count:
        still = (
            f"{count} order{'s' if count != 1 else ''} may still be open on {venue}. Gridwise keeps "
            f"trying to cancel {'them' if count != 1 else 'it'} and settles the bot when {venue} "
            "answers; Force stop marks it stopped now."
        )
        unsold = " The base was not sold: sell it once the stop is through."
    else:
        still = "No order of the bot needed cancelling."
        unsold = (
            f" The base was not sold: stop the bot again to sell it once {venue} answers, "
            "or stop it without selling."
        )
    unsold = unsold if bot.sell_base_on_stop else ""
    do_fail_bot(bot, f"The stop could not be confirmed: {failure.message} {still}{unsold}")


def unconfirmed_cancels(bot_id: int) -> list[Order]:
    return list(
        Order.objects.filter(bot_id=bot_id, cancel_unconfirmed_since__isnull=False).order_by("-price", "id")
    )


def settle_unconfirmed(bot_id: int) -> int:
    """Ask the venue again about orders whose cancel went unanswered; returns how many remain.

    Each is cancelled by its client order id, or, when the venue no longer has it open, takes
    the venue's word on how it ended. Then the fills they made are booked, and once none
    remains, a bot whose stop failed is marked stopped.
    """
    bot = Bot.objects.select_related("exchange_account__paper_account").get(pk=bot_id)
    orders = unconfirmed_cancels(bot_id)
    if not orders:
        return 0
    try:
        exchange = bot_market(bot, fail_fast=True)
        for order in orders:
            _settle_cancel(bot, exchange, order)
        same_run = bot.status not in ACTIVE_STATUSES  # a restarted bot books its new run in its ticks
        if same_run and orders[0].client_order_id.startswith(ids.bot_prefix(bot.pk, bot.run)):
            _book_new_fills(bot, exchange)
    except ExchangeError as exc:
        logger.info("Unconfirmed cancels of bot %s still unsettled: %s", bot_id, type(exc).__name__)
    remaining = len(unconfirmed_cancels(bot_id))
    if not remaining:
        _finish_settled_stop(bot)
    return remaining


def _settle_cancel(bot: Bot, exchange: Exchange, order: Order) -> None:
    venue = bot.exchange_account.get_exchange_display()
    try:
        exchange.cancel_order(bot.symbol, client_order_id=order.client_order_id)
    except OrderNotFound:
        try:
            state = exchange.order(bot.symbol, order.client_order_id)
        except OrderNotFound:
            if (
                order.status == OrderStatus.PENDING
                and order.sent_at
                and timezone.now() - order.sent_at < LOST_AFTER
            ):
                return  # a send may still be on its way there
            ended = OrderStatus.LOST if order.status == OrderStatus.PENDING else OrderStatus.CANCELLED
            _settled(order, ended, f"{venue} has no such order.")
            return
        if state.status.is_open:
            return  # it says open yet cannot be cancelled: asked again next sweep
        _adopt(order, state)
        Order.objects.filter(pk=order.pk).update(cancel_unconfirmed_since=None)
        _note(bot, BotEventKind.ORDER_CANCELLED, f"{venue} reports {_describe(order)} as {order.status}.")
        return
    _settled(order, OrderStatus.CANCELLED)
    _note(bot, BotEventKind.ORDER_CANCELLED, f"{venue} confirmed the cancel of {_describe(order)}.")


def _settled(order: Order, status: str, reason: str = "") -> None:
    Order.objects.filter(pk=order.pk).update(
        status=status, reject_reason=reason or order.reject_reason, cancel_unconfirmed_since=None
    )


def _finish_settled_stop(bot: Bot) -> None:
    """Every cancel is settled: orders planned since are withdrawn, and a failed stop is done."""
    bot.refresh_from_db()
    if bot.status in ACTIVE_STATUSES:
        return
    for order in bot.orders.filter(status=OrderStatus.PENDING, sent_at__isnull=True):
        _withdraw_unsent(order)
    if bot.status != BotStatus.ERROR or bot.orders.filter(status__in=LIVE_STATUSES).exists():
        return
    from bots.actions import InvalidTransition, transition

    venue = bot.exchange_account.get_exchange_display()
    with contextlib.suppress(InvalidTransition):  # started again meanwhile
        transition(
            bot,
            BotStatus.STOPPED,
            allowed_from=(BotStatus.ERROR,),
            message=f"Stopped: {venue} confirmed every cancel.",
            stopped_at=timezone.now(),
            status_reason="",
        )


def _exit_needed(bot: Bot) -> bool:
    # One sale per stop: a rejected part is explained in the log, a lost one is re-placed elsewhere.
    if this_run(bot).filter(purpose=OrderPurpose.EXIT).exists():
        return False
    ledger = bot.books
    # Base already set aside for a sale without orders was all dust, and was reported as such.
    # A short's base is negative: what matters is how much of it is not yet set aside.
    return ledger is not None and abs(ledger.base) > abs(ledger.base_in(EXIT_LOT))


def _pend_exit(bot: Bot, exchange: Exchange) -> None:
    """Commit every part of the sale as a pending order in one transaction, before any is sent:
    each has its own client id, so a worker killed between parts sends the rest, never one twice."""
    instrument = exchange.instrument(bot.symbol)
    price = exchange.ticker(bot.symbol).last
    with transaction.atomic():
        ledger = _locked_ledger(bot)
        for lot in list(ledger.lots):
            if lot != EXIT_LOT and ledger.lots[lot].base:
                ledger.allocate(lot, EXIT_LOT, abs(ledger.lots[lot].base))
        Bot.objects.filter(pk=bot.pk).update(ledger=codec.ledger_to_json(ledger))
        held = ledger.base_in(EXIT_LOT)
        # A position is closed, reduce-only, by the side opposite to it: a short is bought back.
        closing = isinstance(ledger, PositionLedger)
        sale = exit_sale(abs(held), instrument, price)
        for part, quantity in enumerate(sale.parts, start=1):
            client_id = ids.exit_order_id(bot.pk, bot.run, part=part)
            side = Side.BUY if held < 0 else Side.SELL
            _pend(bot, client_id, side, None, quantity, OrderPurpose.EXIT, reduce_only=closing)
        _note_sale(bot, instrument, sale, price)


def _note_sale(bot: Bot, instrument: Instrument, sale: ExitSale, price: Decimal) -> None:
    base = instrument.base
    if len(sale.parts) > 1:
        largest = figure(sale.largest)
        _note(
            bot,
            BotEventKind.STATUS,
            f"Selling {figure(sum(sale.parts, Decimal(0)))} {base} in {len(sale.parts)} market orders: "
            f"{bot.exchange_account.get_exchange_display()} takes at most {largest} {base} in one.",
        )
    if sale.dust > 0:
        _note(
            bot,
            BotEventKind.WARNING,
            f"{figure(sale.dust)} {base} left unsold as dust: below the smallest order the exchange "
            f"takes ({figure(instrument.min_quantity_at(price))} {base}).",
            dust=str(sale.dust),
        )


# Reconcile -------------------------------------------------------------------


@dataclass
class Reconciled:
    """What a reconcile did: whether it changed any of our rows, and the orders still to be sent."""

    changed: bool
    unsent: list[Order]


def _reconcile(bot: Bot, exchange: Exchange, *, follow_finished: bool = True) -> Reconciled:
    """Record new fills once, settle unknown outcomes, and follow orders the exchange finished."""
    booked = _book_new_fills(bot, exchange)
    return _settle_live(bot, exchange, changed=booked, follow_finished=follow_finished)


def _book_new_fills(bot: Bot, exchange: Exchange) -> bool:
    """Record the venue's new fills of this bot's orders, each once; whether any was new."""
    changed = False
    # Read a little before the cursor: a venue may publish a fill after a newer one. The
    # booked-trade check below keeps the overlap from counting anything twice.
    since = bot.fills_cursor - FILLS_OVERLAP if bot.fills_cursor else None
    prefix = ids.bot_prefix(bot.pk, bot.run)
    fills = exchange.fills_since(bot.symbol, since, client_order_prefix=prefix)
    ours = [fill for fill in fills if fill.client_order_id.startswith(prefix)]
    # The cursor is inclusive (a fill sharing its timestamp must never be skipped), so the
    # last fills come back on every tick. One read of the trade ids already booked spares
    # each of them a transaction that would end in the unique constraint's IntegrityError;
    # that constraint still decides what is new, here and in any race.
    booked = (
        set(
            FillRow.objects.filter(
                exchange_account_id=bot.exchange_account_id, trade_id__in=[fill.trade_id for fill in ours]
            ).values_list("trade_id", flat=True)
        )
        if ours
        else set()
    )
    for fill in ours:
        if fill.trade_id not in booked:
            changed |= _record_fill(bot, exchange, fill)
    if fills:
        cursor = max(fill.time for fill in fills)
        if cursor != bot.fills_cursor:
            Bot.objects.filter(pk=bot.pk).update(fills_cursor=cursor)
            bot.fills_cursor = cursor
    return changed


def _settle_live(bot: Bot, exchange: Exchange, *, changed: bool, follow_finished: bool) -> Reconciled:
    """Settle unknown outcomes and follow orders the exchange finished; `changed`: fills were booked."""
    # One read of every live order serves settling, following and sending.
    live = list(
        bot.orders.filter(
            status__in=(OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)
        ).order_by("id")
    )
    changed |= _settle_pending(bot, exchange, [o for o in live if o.status == OrderStatus.PENDING])
    if follow_finished:
        changed |= _follow_finished(
            bot, exchange, [o for o in live if o.status in (OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED)]
        )
    unsent = [o for o in live if o.status == OrderStatus.PENDING and o.sent_at is None]
    return Reconciled(changed, unsent)


def _record_fill(bot: Bot, exchange: Exchange, fill: Fill) -> bool:
    """Book one fill; False when its order is not ours or the trade is already on the books."""
    try:
        with transaction.atomic():
            # The order and its bot (the books and grid this fill changes), locked in one statement.
            order = (
                Order.objects.select_for_update()
                .select_related("bot")
                .filter(bot=bot, client_order_id=fill.client_order_id)
                .first()
            )
            if order is None:
                return False
            FillRow.objects.create(
                bot=bot,
                order=order,
                exchange_account_id=bot.exchange_account_id,
                trade_id=fill.trade_id,
                symbol=fill.symbol,
                side=fill.side,
                price=fill.price,
                quantity=fill.quantity,
                fee=fill.fee,
                fee_asset=fill.fee_asset,
                is_maker=fill.is_maker,
                time=fill.time,
            )
            _apply_fill(bot, exchange, order, fill, locked=order.bot)
    except IntegrityError:
        return False  # this trade id is already on the books
    return True


def _apply_fill(bot: Bot, exchange: Exchange, order: Order, fill: Fill, *, locked: Bot) -> None:
    """`locked`: the bot's row as read under its lock, with the books and grid to change."""
    previous_value = order.filled_quantity * (order.average_price or 0)
    order.filled_quantity += fill.quantity
    order.average_price = (previous_value + fill.quantity * fill.price) / order.filled_quantity
    complete = order.filled_quantity >= order.quantity
    if order.status in (OrderStatus.PENDING, OrderStatus.OPEN, OrderStatus.PARTIALLY_FILLED):
        order.status = OrderStatus.FILLED if complete else OrderStatus.PARTIALLY_FILLED
    order.save(update_fields=["filled_quantity", "average_price", "status", "updated_at"])

    strategy = strategy_for(locked)
    ledger = codec.ledger_from_json(locked.ledger) if locked.ledger else None
    state = strategy.state_from_json(locked.state) if locked.state else None
    config = strategy.config_from_json(locked.config)
    if ledger is not None:
        ledger.apply(_ledger_fill(strategy, config, order, fill, complete))
    if state is not None and order.purpose == OrderPurpose.GRID and order.interval is not None:
        before = state
        state = _advance(bot, exchange, strategy, config, order, fill, state, ledger)
        _announce(bot, strategy.milestones(config, before, state))
    Bot.objects.filter(pk=bot.pk).update(
        ledger=codec.ledger_to_json(ledger) if ledger else None,
        state=strategy.state_to_json(state) if state is not None else None,
    )
    _note(
        bot,
        BotEventKind.FILL,
        f"{fill.side.title()} {figure(fill.quantity)} @ {figure(fill.price)}",
        trade_id=fill.trade_id,
    )
    publish(bot, "fill", {"trade_id": fill.trade_id})


def _ledger_fill(
    strategy: Strategy[Any, Any], config: Any, order: Order, fill: Fill, complete: bool
) -> LedgerFill:
    """The start and the exit have lots of their own; the strategy names the rest."""
    if order.purpose == OrderPurpose.START:
        lot = START_LOT
    elif order.purpose == OrderPurpose.EXIT:
        lot = EXIT_LOT
    else:
        lot = strategy.ledger_lot(order.interval or 0)
    closes_trip = order.purpose == OrderPurpose.GRID and strategy.closes_trip(
        config, Side(fill.side), complete
    )
    return LedgerFill(fill.side, fill.price, fill.quantity, fill.fee, fill.fee_asset, lot, closes_trip)


def _advance(
    bot: Bot,
    exchange: Exchange,
    strategy: Strategy[Any, Any],
    config: Any,
    order: Order,
    fill: Fill,
    state: Any,
    ledger: Ledger | None,
) -> Any:
    """The strategy's decision on one booked fill, carried out in the fill's transaction."""
    instrument = exchange.instrument(bot.symbol)
    strategy_fill = StrategyFill(
        order.interval or 0, order.cycle, fill.side, fill.price, fill.quantity, fill.fee, fill.fee_asset
    )
    live_sells = bot.orders.filter(side=Side.SELL, status__in=LIVE_STATUSES)
    offered = live_sells.aggregate(offered=Sum(F("quantity") - F("filled_quantity")))["offered"] or Decimal(0)
    available = (ledger.base if ledger else Decimal(0)) - offered
    decision = strategy.apply_fills(
        state, [strategy_fill], instrument, config, base_available=max(Decimal(0), available)
    )
    _carry_out(bot, decision)
    return decision.state


def _settle_pending(bot: Bot, exchange: Exchange, pending: list[Order]) -> bool:
    """Orders sent with an unknown outcome: found by client id, or, once surely absent, lost."""
    changed = False
    for order in pending:
        if order.sent_at is None:
            continue  # never sent: nothing to settle, it is sent after the reconcile
        try:
            state = exchange.order(bot.symbol, order.client_order_id)
        except OrderNotFound:
            if timezone.now() - order.sent_at >= LOST_AFTER:
                _mark_lost_and_replace(bot, order)
                changed = True
            continue
        _adopt_placed(bot, exchange, order, state)
        changed = True
    return changed


def _follow_finished(bot: Bot, exchange: Exchange, ours: list[Order]) -> bool:
    """Orders we think are open but the exchange no longer lists as open."""
    # Orders a settle just adopted as open are followed too, as when this was a fresh query.
    if not ours:
        return False
    open_ids = {state.client_order_id for state in exchange.open_orders(bot.symbol)}
    changed = False
    for order in ours:
        if order.client_order_id in open_ids:
            continue
        try:
            _adopt_placed(bot, exchange, order, exchange.order(bot.symbol, order.client_order_id))
        except OrderNotFound:
            continue
        changed = True
    return changed


def _adopt(order: Order, state: OrderState) -> None:
    status = _VENUE_TO_ORDER[state.status]
    if status == OrderStatus.FILLED and order.filled_quantity < order.quantity:
        status = OrderStatus.PARTIALLY_FILLED  # its last fills are still on their way to us
    order.status = status
    order.exchange_order_id = state.exchange_order_id
    order.reject_reason = state.reject_reason or order.reject_reason
    order.updated_at = timezone.now()
    Order.objects.filter(pk=order.pk).update(
        status=order.status,
        exchange_order_id=order.exchange_order_id,
        reject_reason=order.reject_reason,
        updated_at=order.updated_at,
    )


def _mark_lost_and_replace(bot: Bot, order: Order) -> None:
    with transaction.atomic():
        _set_status(order, OrderStatus.LOST, "The exchange never received it.")
        _pend_again(bot, order)
        _note(
            bot,
            BotEventKind.ORDER_LOST,
            f"Order {order.client_order_id} never reached the exchange; placed again.",
        )


def _pend_again(bot: Bot, order: Order) -> None:
    """The same order as a new attempt (a new client id), pending: the venue never took `order`."""
    attempt = order.attempt + 1
    if order.purpose == OrderPurpose.GRID and order.interval is not None:
        client_id = ids.grid_order_id(bot.pk, bot.run, order.interval, order.cycle, Side(order.side), attempt)
    elif order.purpose == OrderPurpose.START:
        client_id = ids.start_order_id(bot.pk, bot.run, attempt)
    else:
        client_id = ids.exit_order_id(bot.pk, bot.run, attempt, part=ids.exit_part(order.client_order_id))
    _pend(
        bot,
        client_id,
        Side(order.side),
        order.price,
        order.quantity,
        order.purpose,
        attempt=attempt,
        grid_place=(order.interval, order.cycle) if order.interval is not None else None,
        reduce_only=order.reduce_only,
    )


def _adopt_placed(bot: Bot, exchange: Exchange, order: Order, state: OrderState) -> None:
    """Take the venue's word on an order we sent; one it refused as post-only is planned again,
    one it rejected otherwise (after taking it) goes to the strategy, in the same transaction."""
    if state.status is VenueStatus.REJECTED and not state.post_only_refused and _strategy_order(order):
        with transaction.atomic():
            _adopt(order, state)
            halt = _strategy_refusal(bot, exchange, order, order.reject_reason or "rejected by the exchange")
        if halt:
            raise BotHalted(halt)
        return
    if state.post_only_refused and order.purpose == OrderPurpose.GRID:
        with transaction.atomic():  # refused and planned again in one commit, as in `_send_once`
            _adopt(order, state)
            _replan(bot, order)
        return
    _adopt(order, state)


def _strategy_order(order: Order) -> bool:
    return order.purpose == OrderPurpose.GRID and order.interval is not None


def _strategy_refusal(bot: Bot, exchange: Exchange, order: Order, reason: str) -> str | None:
    """Inside the transaction that marks `order` refused: the strategy withdraws it from its
    state (a DCA deal whose base order was refused is no deal). Returns why the bot must stop,
    if the strategy says so. Both commit together, so a crash never leaves a state waiting for
    an order that is already refused."""
    if not _strategy_order(order):
        return None
    locked = Bot.objects.select_for_update().get(pk=bot.pk)
    if locked.state is None:
        return None
    strategy = strategy_for(locked)
    config = strategy.config_from_json(locked.config)
    key = (order.interval or 0, order.cycle)
    state = strategy.state_from_json(locked.state)
    decision = strategy.on_refused(state, key, reason, config, exchange.instrument(bot.symbol))
    if decision is None:
        return None
    _carry_out(bot, decision)
    Bot.objects.filter(pk=bot.pk).update(state=strategy.state_to_json(decision.state))
    return decision.halt


def _replan(bot: Bot, order: Order) -> None:
    """A grid order the venue refused as post-only: by the time it was sent, the price had
    crossed its level, and sent as it was it would have traded at market (docs/architecture.md,
    "Grid orders rest, never take"). The interval keeps its order: the same one, as a new
    attempt, waits unsent until the price is back on its side (`_send_pending`), then rests."""
    assert order.price is not None
    direction = "above" if order.side == Side.BUY else "below"
    with transaction.atomic():
        Order.objects.filter(pk=order.pk).update(reject_reason=POST_ONLY_REASON)
        _pend_again(bot, order)
        _note(
            bot,
            BotEventKind.WARNING,
            f"{_describe(order).capitalize()} would have traded at market: the price had crossed it by "
            f"the time it was sent. It waits for the price to be back {direction} {figure(order.price)}.",
        )


# Act -------------------------------------------------------------------------


def _pend_intent(bot: Bot, intent: OrderIntent) -> None:
    if intent.reduce_only and not trades_perpetual(bot):
        # Spot venues have no position to reduce: sent as an ordinary order it could open one.
        raise BotHalted("This strategy needs a futures account: it places reduce-only orders.")
    client_id = ids.grid_order_id(bot.pk, bot.run, intent.interval, intent.cycle, intent.side)
    _pend(
        bot,
        client_id,
        intent.side,
        intent.price if intent.order_type is OrderType.LIMIT else None,
        intent.quantity,
        OrderPurpose.GRID,
        grid_place=(intent.interval, intent.cycle),
        reduce_only=intent.reduce_only,
    )


def _pend(
    bot: Bot,
    client_id: str,
    side: Side,
    price: Decimal | None,
    quantity: Decimal,
    purpose: str,
    *,
    attempt: int = 0,
    grid_place: tuple[int, int] | None = None,
    reduce_only: bool = False,
) -> None:
    """Commit the order as pending before anything is sent. The same intent twice is one row
    (its client id names the grid interval and cycle, `grid_place`, of a grid order): one
    INSERT that skips a client id already taken, with no savepoint and no read first (each a
    round trip inside a fill's booking)."""
    interval, cycle = grid_place if grid_place is not None else (None, 0)
    order = Order(
        bot=bot,
        client_order_id=client_id,
        symbol=bot.symbol,
        side=side,
        order_type=OrderType.LIMIT if price is not None else OrderType.MARKET,
        price=price,
        quantity=quantity,
        purpose=purpose,
        attempt=attempt,
        interval=interval,
        cycle=cycle,
        reduce_only=reduce_only,
    )
    Order.objects.bulk_create([order], ignore_conflicts=True)  # client_order_id is the only unique key


_SENDING_STATUS = {
    OrderPurpose.GRID: BotStatus.RUNNING,
    OrderPurpose.START: BotStatus.STARTING,
    OrderPurpose.EXIT: BotStatus.STOPPING,
}


def _send_pending(bot: Bot, exchange: Exchange, unsent: list[Order] | None = None) -> None:
    """Send each pending order once; `unsent` is this tick's own fresh read of them, if it has one.

    A grid order planned again after a refusal waits, unsent, while the price is still across it."""
    if unsent is None:
        unsent = list(bot.orders.filter(status=OrderStatus.PENDING, sent_at__isnull=True).order_by("id"))
    ticker: Ticker | None = None
    funding = _Funding(bot, exchange)
    for order in unsent:
        if order.purpose == OrderPurpose.GRID and order.attempt > 0 and order.price is not None:
            ticker = ticker or exchange.ticker(bot.symbol)
            if would_take(order, ticker):
                continue
        sending_status = _SENDING_STATUS[OrderPurpose(order.purpose)]
        if _claim_send(order, sending_status):
            # Checked once the send is claimed, so a bot stopped meanwhile is never halted here.
            if _strategy_order(order) and (shortfall := funding.shortfall(order)):
                _refuse_unsent(bot, exchange, order, shortfall)
            _send_once(bot, exchange, order)
        elif (
            order.purpose == OrderPurpose.GRID
            and not Bot.objects.filter(pk=bot.pk, status=sending_status).exists()
        ):
            # Stopped while this tick ran (an emergency stop): never send it.
            _set_status(order, OrderStatus.CANCELLED, "The bot was stopped before it was sent.")


class _Funding:
    """Asks the strategy, before each of its orders goes out, what the account must hold free
    first (`Strategy.funds_to_place`); reads the state once per send, the balances only when
    something is to be checked."""

    def __init__(self, bot: Bot, exchange: Exchange) -> None:
        self.bot, self.exchange = bot, exchange
        self._asked: tuple[Strategy[Any, Any], Any, Any, Instrument] | None = None

    def shortfall(self, order: Order) -> str:
        """What the account lacks for `order`, in a trader's words; "" when funded."""
        if not strategy_for(self.bot).checks_funds:
            return ""
        asked = self._ask()
        if asked is None:
            return ""
        strategy, config, state, instrument = asked
        needed = strategy.funds_to_place(state, (order.interval or 0, order.cycle), config, instrument)
        if not any(amount > 0 for amount in needed.values()):
            return ""
        if strategy.replans:
            # Orders the state no longer wants (the last deal's) give their funds back first.
            _cancel_strays(self.bot, self.exchange, strategy)
        free = {asset: balance.free for asset, balance in self.exchange.balances().items()}
        shortfalls = funds_shortfall(needed, free)
        return shortfalls_text(shortfalls, instrument)

    def _ask(self) -> tuple[Strategy[Any, Any], Any, Any, Instrument] | None:
        if self._asked is None:
            state = Bot.objects.filter(pk=self.bot.pk).values_list("state", flat=True).first()
            if state is None:
                return None
            strategy = strategy_for(self.bot)
            self._asked = (
                strategy,
                strategy.config_from_json(self.bot.config),
                strategy.state_from_json(state),
                self.exchange.instrument(self.bot.symbol),
            )
        return self._asked


def _refuse_unsent(bot: Bot, exchange: Exchange, order: Order, shortfall: str) -> NoReturn:
    """An order the account cannot fund is never sent: refused here as the venue would refuse
    it, and the strategy told."""
    with transaction.atomic():
        _set_status(order, OrderStatus.REJECTED, shortfall)
        _note(bot, BotEventKind.ORDER_REJECTED, f"Not sent: {_describe(order)}. {shortfall}")
        halt = _strategy_refusal(bot, exchange, order, shortfall)
    raise BotHalted(halt or shortfall)


def would_take(order: Order, ticker: Ticker) -> bool:
    """Whether a grid order would trade at once at this price: a buy at or above the last price
    or the best ask, a sell at or below the last price or the best bid."""
    assert order.price is not None
    if order.side == Side.BUY:
        return order.price >= min(ticker.last, ticker.ask)
    return order.price <= max(ticker.last, ticker.bid)


def _claim_send(order: Order, sending_status: str) -> bool:
    """Claim the one send, in one statement with the check that the bot may still send it: a
    racing worker that also saw it pending finds sent_at taken, and a bot stopped since (an
    emergency stop during this tick) claims nothing."""
    claimable = Order.objects.filter(pk=order.pk, sent_at__isnull=True, bot__status=sending_status)
    return bool(claimable.update(sent_at=timezone.now()))


def _send_once(bot: Bot, exchange: Exchange, order: Order) -> None:
    """Send a claimed order once. Grid orders go post-only: they rest on the book or not at all."""
    request = OrderRequest(
        symbol=order.symbol,
        side=Side(order.side),
        order_type=OrderType(order.order_type),
        quantity=order.quantity,
        client_order_id=order.client_order_id,
        price=order.price,
        time_in_force=TimeInForce.POST_ONLY if _rests(order) else TimeInForce.GTC,
        reduce_only=order.reduce_only,
        kind=market_kind(exchange),
    )
    try:
        state = exchange.place_order(request)
    except DuplicateClientOrderId:
        return  # it reached the exchange before; the next reconcile adopts it by client id
    except RateLimited:
        # A definite "not accepted": the order may go out again later.
        Order.objects.filter(pk=order.pk).update(sent_at=None)
        raise
    except (InvalidOrder, InsufficientBalance) as exc:
        if isinstance(exc, InvalidOrder) and exc.reason is InvalidOrderReason.POST_ONLY_WOULD_TAKE:
            # One commit: a worker killed between the two would leave the level with no order.
            with transaction.atomic():
                _set_status(order, OrderStatus.REJECTED)
                _replan(bot, order)
            return
        with transaction.atomic():
            _set_status(order, OrderStatus.REJECTED, exc.message)
            _note(
                bot,
                BotEventKind.ORDER_REJECTED,
                f"The exchange rejected {_describe(order)}: {exc.message}",
            )
            halt = _strategy_refusal(bot, exchange, order, exc.message)
        if halt:
            raise BotHalted(halt) from exc
        if isinstance(exc, InsufficientBalance):
            raise
        return
    _adopt_placed(bot, exchange, order, state)
    if state.post_only_refused:
        return
    _note(bot, BotEventKind.ORDER_PLACED, f"Placed {_describe(order)}.")
    publish(bot, "order", {"client_order_id": order.client_order_id})


def _rests(order: Order) -> bool:
    """A strategy's limit orders go post-only: they rest on the book or not at all."""
    return order.purpose == OrderPurpose.GRID and order.order_type == OrderType.LIMIT


def _describe(order: Order) -> str:
    price = figure(order.price) if order.price is not None else "market"
    return f"{order.side} {figure(order.quantity)} @ {price}"


def _set_status(order: Order, status: str, reason: str = "") -> None:
    Order.objects.filter(pk=order.pk).update(status=status, reject_reason=reason or order.reject_reason)


def _locked_ledger(bot: Bot) -> Ledger:
    locked = Bot.objects.select_for_update().get(pk=bot.pk)
    if locked.ledger is None:
        raise BotHalted("The bot's books are missing.")
    return codec.ledger_from_json(locked.ledger)
