"""The tick's guarantees under faults: a worker killed anywhere, two workers on one bot, a failing venue.

A worker killed at any point in a tick leaves no duplicate order, no orphan order, and no fill lost
or counted twice; two ticks of one bot never run at once (docs/architecture.md).
"""

from __future__ import annotations

import os
import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise

import pytest
from django.db import connections, transaction
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import make_user
from bots import actions, engine
from bots.models import Bot, BotEvent, BotEventKind, BotStatus
from bots.strategies.grid import GridConfig
from bots.tests.conftest import grid_config
from bots.tests.crash import (
    AFTER_COMMIT,
    ANY_EXCHANGE_CALL,
    ANY_STATEMENT,
    BEFORE_SEND,
    MID_FILL_BATCH,
    STEPS,
    CallRecorder,
    Clock,
    FaultyExchange,
    Injector,
    KillPlan,
    WorkerKilled,
    books_problems,
    statements_watched,
    unsettled,
)
from exchanges.base import OrderStatus as VenueStatus
from exchanges.bybit.adapter import BybitExchange
from exchanges.models import CheckOutcome, Environment, ExchangeAccount, ExchangeName
from exchanges.paper import market
from exchanges.paper.models import PaperOrder
from exchanges.paper.service import open_paper_account
from exchanges.registry import exchange_for_account
from exchanges.simulator.server import BybitSimulator, running_simulator
from trading.models import LIVE_STATUSES, Fill, Order, OrderPurpose, OrderStatus

D = Decimal
QUOTE_START = D("5000")
START_PRICE = D("54000")
# Seeded scenarios run in batches, each its own test and transaction: the rolled-back forks of
# one long transaction leave dead rows behind that slow every later scenario down.
BATCH = 50
BATCHES = int(os.environ.get("GRIDWISE_CRASH_BATCHES", "4"))


def paper_bot(owner: User, label: str, **config: object) -> Bot:
    paper = open_paper_account(f"{label} paper", {"USDT": QUOTE_START})
    account = ExchangeAccount.objects.create(
        owner=owner,
        label=label,
        exchange=ExchangeName.PAPER,
        environment=Environment.PAPER,
        paper_account=paper,
    )
    return actions.do_create_bot(owner, account, label, grid_config(**config), START_PRICE)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Time moves only when a test says so much has passed (leases expire, orders age)."""
    clock = Clock()
    monkeypatch.setattr(timezone, "now", clock.now)
    return clock


@pytest.fixture
def injector(monkeypatch: pytest.MonkeyPatch) -> Injector:
    """Every tick trades through a killable wrapper around its real exchange.

    The engine turns an account into an exchange once per tick through
    `exchange_for_account`; wrapping what it returns is the exchange seam.
    """
    injector = Injector()
    real = engine.exchange_for_account
    monkeypatch.setattr(
        engine,
        "exchange_for_account",
        lambda account, **options: FaultyExchange(real(account, **options), injector),
    )
    return injector


# 1. Kills at every step of a tick --------------------------------------------------


class Runs:
    """Seeded scenarios on forks of two bots: one about to start, one running its grid."""

    def __init__(self, injector: Injector, clock: Clock, starting: Bot, running: Bot) -> None:
        self.injector, self.clock = injector, clock
        self.starting, self.running = starting, running
        self.planned: Counter[str] = Counter()
        self.crashed: Counter[str] = Counter()
        self.phases: Counter[str] = Counter()

    def tick(self, bot: Bot, plan: KillPlan | None = None, *, expire_lease: bool = True) -> bool:
        """One tick, killed if the plan's point comes up. Returns whether the worker died."""
        self.injector.arm(plan)
        try:
            with statements_watched(self.injector):
                engine.run_tick(bot.pk)
        except BaseException as exc:
            # A kill, or the lease release in run_tick's `finally` refused after it (see below).
            if not isinstance(exc, WorkerKilled) and not isinstance(exc.__context__, WorkerKilled):
                raise
            # Each scenario runs in a transaction rolled back at its end (a fork of the base state).
            # A kill outside the engine's own transactions leaves that enclosing block marked for
            # rollback; in production those statements run in autocommit with no enclosing block,
            # and the killed statement never reached PostgreSQL, so the mark is lifted.
            transaction.set_rollback(False)
            if expire_lease:
                self.clock.advance(engine.LEASE + timedelta(seconds=1))  # the dead worker's lease expires
            return True
        finally:
            self.injector.disarm()
        return False

    def plan(self, rng: random.Random, *, fills: bool) -> KillPlan:
        """Steps in turn, so each gets its share of kills; where in the step, by the seed.

        A tick may have no such point (no fill to record, nothing to send); the same step is
        then planned again for the next tick. Only a tick after a price move has grid fills.
        """
        step = STEPS[sum(self.crashed.values()) % len(STEPS)]  # moves on once a kill landed
        if fills and rng.random() < 0.3:
            step = MID_FILL_BATCH  # the rarest point: only a tick after a move has a batch of fills
        elif step == MID_FILL_BATCH and not fills:
            step = ANY_STATEMENT
        self.planned[step] += 1
        return KillPlan(step, _ordinal(step, rng))

    def killed_tick(self, bot: Bot, rng: random.Random, *, fills: bool = False) -> None:
        plan = self.plan(rng, fills=fills)
        if self.tick(bot, plan):
            self.crashed[plan.step] += 1

    def run(self, seed: int) -> None:
        rng = random.Random(seed)
        phase = rng.choice(("start", "run", "run", "stop"))
        self.phases[phase] += 1
        with transaction.atomic():
            try:
                bot = self.starting if phase == "start" else self.running
                getattr(self, f"_{phase}")(bot, rng)
                problems = self.settle(bot)
                assert not problems, f"seed {seed}, {phase}: {problems}"
            finally:
                transaction.set_rollback(True)

    # Every tick of a scenario may be killed, the ticks that recover from an earlier kill included.

    def _start(self, bot: Bot, rng: random.Random) -> None:
        market.set_price("BTCUSDT", START_PRICE + rng.randint(-20, 20) * 100)
        self.killed_tick(bot, rng)  # sends the start trade
        self.killed_tick(bot, rng)  # books it, lays out the grid and sends it

    def _run(self, bot: Bot, rng: random.Random) -> None:
        for _ in range(rng.randint(1, 2)):
            market.set_price("BTCUSDT", _wander(rng))
            self.killed_tick(bot, rng, fills=True)
        self.killed_tick(bot, rng)

    def _stop(self, bot: Bot, rng: random.Random) -> None:
        market.set_price("BTCUSDT", _wander(rng))
        self.killed_tick(bot, rng, fills=True)
        actions.do_stop_bot(bot, sell_base=rng.random() < 0.5)
        self.killed_tick(bot, rng)  # cancels the grid, maybe sends the exit trade
        self.killed_tick(bot, rng)  # books the exit and stops

    def settle(self, bot: Bot) -> list[str]:
        """Tick until quiet: nothing pending, the books agree with the venue, the bot not mid-way."""
        problems: list[str] = []
        for _ in range(8):
            self.tick(bot)
            problems = books_problems(bot, quote_start=QUOTE_START)
            pending = unsettled(bot)
            if bot.status == BotStatus.ERROR:
                return [f"bot went to error: {bot.status_reason}"]
            if not problems and not pending and bot.status in (BotStatus.RUNNING, BotStatus.STOPPED):
                return []
            # Orders sent into the void are only called lost once LOST_AFTER has passed.
            self.clock.advance(engine.LOST_AFTER)
        return problems or ["never settled: still pending or mid-way"]


def _ordinal(step: str, rng: random.Random) -> int:
    # Roughly how many such points a tick has: a busy tick makes ~20 venue calls and ~50 statements.
    upper = {ANY_EXCHANGE_CALL: 20, ANY_STATEMENT: 50, AFTER_COMMIT: 4}.get(step, 2)
    return rng.randint(1, upper)


def _wander(rng: random.Random) -> Decimal:
    # Anywhere across the grid (45000-65000) and a little beyond: a move often crosses several lines.
    return D(rng.randrange(440, 662) * 100)


@pytest.mark.parametrize("batch", range(BATCHES))
def test_a_worker_killed_at_any_step_leaves_exact_books(
    trader: User, injector: Injector, clock: Clock, request: pytest.FixtureRequest, batch: int
) -> None:
    market.set_price("BTCUSDT", START_PRICE)
    starting = actions.do_start_bot(paper_bot(trader, "Starting"))
    running = actions.do_start_bot(paper_bot(trader, "Running"))
    runs = Runs(injector, clock, starting, running)
    runs.tick(running)
    runs.tick(running)
    running.refresh_from_db()
    assert running.status == BotStatus.RUNNING
    assert not books_problems(running, quote_start=QUOTE_START)

    for seed in range(batch * BATCH, (batch + 1) * BATCH):
        runs.run(seed)

    report = ", ".join(f"{step} {runs.crashed[step]}/{runs.planned[step]}" for step in STEPS)
    report = (
        f"{BATCH} crash scenarios {dict(runs.phases)}, {sum(runs.crashed.values())} kills; "
        f"killed/planned per step: {report}"
    )
    request.node.add_report_section("call", "crash injection", report)  # shown with -rP
    # The kills really happened, at every step: a seam that stopped reaching the engine fails here.
    for step in STEPS:
        assert runs.crashed[step] >= 2, f"too few kills at {step}: {report}"


def test_the_audit_sees_a_fill_counted_twice_and_an_orphan(trader: User) -> None:
    """The audit itself can fail: books altered behind the engine's back do not pass it."""
    market.set_price("BTCUSDT", START_PRICE)
    bot = actions.do_start_bot(paper_bot(trader, "Audited"))
    engine.run_tick(bot.pk)
    engine.run_tick(bot.pk)
    assert not books_problems(bot, quote_start=QUOTE_START)

    fill = bot.fills.get()
    fill.pk, fill.trade_id = None, "copied"
    fill.save()
    assert "1 recorded fill(s) the venue never made" in books_problems(bot, quote_start=QUOTE_START)
    fill.delete()

    Order.objects.filter(bot=bot, status=OrderStatus.OPEN).first().delete()  # type: ignore[union-attr]
    assert any(p.startswith("orphan on the venue") for p in books_problems(bot, quote_start=QUOTE_START))


def test_a_kill_between_marking_sent_and_sending_never_sends_twice(
    trader: User, injector: Injector, clock: Clock
) -> None:
    """Killed right before the venue call: the order is not re-sent blindly, only once surely lost."""
    market.set_price("BTCUSDT", START_PRICE)
    bot = actions.do_start_bot(paper_bot(trader, "Before send"))
    runs = Runs(injector, clock, bot, bot)
    assert runs.tick(bot, KillPlan(BEFORE_SEND, 1), expire_lease=False)
    start = bot.orders.get()
    assert (start.status, start.sent_at is not None) == (OrderStatus.PENDING, True)

    assert engine.run_tick(bot.pk), "the lease was given back as the tick unwound"
    assert not PaperOrder.objects.filter(client_order_id=start.client_order_id).exists()
    start.refresh_from_db()
    assert start.status == OrderStatus.PENDING, "too soon to call it lost, and never re-sent blindly"

    assert not runs.settle(bot)
    start.refresh_from_db()
    assert start.status == OrderStatus.LOST
    assert bot.orders.get(client_order_id=f"{start.client_order_id}-a1").status == OrderStatus.FILLED


# 2. Two workers, one bot ----------------------------------------------------------------


def _in_threads(workers: int, work: Callable[[int], None]) -> list[BaseException]:
    errors: list[BaseException] = []

    def run(index: int) -> None:
        try:
            work(index)
        except BaseException as exc:  # noqa: BLE001 - whatever ends a thread is the test's to report
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


@pytest.fixture
def recorded(monkeypatch: pytest.MonkeyPatch) -> CallRecorder:
    """Each tick's venue calls, held open 1 ms each so that overlapping ticks would show."""
    recorder = CallRecorder(hold=0.001)
    real = engine.exchange_for_account
    monkeypatch.setattr(
        engine,
        "exchange_for_account",
        lambda account, **options: FaultyExchange(real(account, **options), Injector(), recorder),
    )
    return recorder


@pytest.mark.django_db(transaction=True)
def test_two_workers_never_tick_one_bot_at_once(recorded: CallRecorder) -> None:
    owner = make_user(email="racer@example.com")
    market.set_price("BTCUSDT", START_PRICE)
    # A (never reached) stop-loss makes every running tick read the price, so a quiet tick,
    # which otherwise skips the venue, still shows in the recorded calls.
    bot = actions.do_start_bot(paper_bot(owner, "Raced", stop_loss_price=Decimal("1000")))
    ran: Counter[int] = Counter()
    refused: Counter[int] = Counter()
    rng = random.Random(7)
    prices = [_wander(rng) for _ in range(40)]
    wanted = 10

    def worker(index: int) -> None:
        pause = random.Random(index)
        while sum(ran.values()) < wanted and refused[index] < 2000:
            if engine.run_tick(bot.pk):
                ran[index] += 1
                market.set_price("BTCUSDT", prices[sum(ran.values()) % len(prices)])
            else:
                refused[index] += 1  # the other worker holds the lease
            time.sleep(pause.random() * 0.004)

    errors = _in_threads(2, worker)

    assert not errors
    assert recorded.overlaps == []
    assert recorded.interleaved() == []
    assert recorded.ticks == sum(ran.values()) >= wanted, "every tick that ran is recorded"
    assert all(ran[index] for index in range(2)), f"each worker won some ticks: {dict(ran)}"
    assert all(refused[index] for index in range(2)), f"each was refused while the other ticked: {refused}"
    # A last tick may have orders to settle or send: tick until quiet.
    for _ in range(4):
        assert engine.run_tick(bot.pk)
        problems = books_problems(bot, quote_start=QUOTE_START)
        if not problems and not unsettled(bot):
            break
    assert not problems


@pytest.mark.django_db(transaction=True)
def test_without_the_lease_the_recorder_sees_ticks_overlap(recorded: CallRecorder) -> None:
    """The control: ticks that skip the lease (the tick's steps directly) do overlap, and it shows."""
    owner = make_user(email="control@example.com")
    market.set_price("BTCUSDT", START_PRICE)
    bot = actions.do_start_bot(paper_bot(owner, "Unleased"))
    barrier = threading.Barrier(2)

    def worker(index: int) -> None:
        loaded = Bot.objects.select_related("exchange_account__paper_account").get(pk=bot.pk)
        barrier.wait()
        for _ in engine._tick_steps(loaded):  # the tick's steps, without a claim or a lease
            pass

    assert not _in_threads(2, worker)
    assert recorded.overlaps
    assert recorded.interleaved()


@pytest.mark.django_db(transaction=True)
def test_of_simultaneous_claims_exactly_one_wins() -> None:
    owner = make_user(email="claims@example.com")
    market.set_price("BTCUSDT", START_PRICE)
    bot = actions.do_start_bot(paper_bot(owner, "Claimed"))
    workers, rounds = 6, 15
    for _ in range(rounds):
        barrier = threading.Barrier(workers)
        tokens: list[object] = []

        def claim(index: int, barrier: threading.Barrier = barrier, tokens: list[object] = tokens) -> None:
            barrier.wait()
            token = engine.claim(bot.pk)
            if token is not None:
                tokens.append(token)

        assert not _in_threads(workers, claim)
        assert len(tokens) == 1
        Bot.objects.filter(pk=bot.pk).update(lease_until=None, lease_token=None)


# 3. Simulator faults through the real Bybit adapter -----------------------------------

KEY, SECRET = "faults-trader-key-9X", "faults-trader-secret-0123456789abcd"


@pytest.fixture
def simulator(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[BybitSimulator]:
    market.set_price("BTCUSDT", START_PRICE)
    market.set_price("ETHUSDT", D("2000"))  # the wallet values every listed coin, so each needs a price
    monkeypatch.setattr(BybitExchange, "backoff", 0.01)  # read retries stay quick in tests
    with running_simulator(allow_faults=True) as running:
        running.add_key(KEY, SECRET, balances={"USDT": QUOTE_START})
        yield running


def bybit_bot(simulator: BybitSimulator, config: GridConfig | None = None, **account: object) -> Bot:
    owner = make_user(email="bybit.bots@example.com")
    exchange_account = ExchangeAccount(
        owner=owner,
        label="Bybit sim",
        exchange=ExchangeName.BYBIT,
        environment=Environment.CUSTOM,
        base_url=simulator.url,
        **account,
    )
    exchange_account.set_credentials(KEY, SECRET)
    exchange_account.record_check(CheckOutcome.OK, [])
    exchange_account.save()
    bot = actions.do_create_bot(owner, exchange_account, "Bybit grid", config or grid_config(), START_PRICE)
    return actions.do_start_bot(bot)


def sim_orders(bot: Bot) -> Counter[str]:
    prefix = f"gw{bot.pk}r{bot.run}-"
    return Counter(
        PaperOrder.objects.filter(account__api_key=KEY, client_order_id__startswith=prefix).values_list(
            "client_order_id", flat=True
        )
    )


def tick_until(bot: Bot, done: Callable[[Bot], bool], ticks: int = 12) -> Bot:
    for _ in range(ticks):
        engine.run_tick(bot.pk)
        bot.refresh_from_db()
        if done(bot):
            break
    return bot


def test_lost_replies_rate_limits_and_5xx_leave_each_order_placed_once(simulator: BybitSimulator) -> None:
    bot = bybit_bot(simulator)

    # The start trade is accepted but its reply is lost: it stays pending, then is found by client id.
    simulator.faults.configure(lose_order_responses=1, lose_mode="drop")
    engine.run_tick(bot.pk)
    start = bot.orders.get()
    assert (start.status, start.sent_at is not None) == (OrderStatus.PENDING, True)
    assert sim_orders(bot) == {start.client_order_id: 1}

    # Laying out the grid: two replies lost, a rate limit and 5xx answers on the reads.
    simulator.faults.configure(lose_order_responses=2, rate_limit_requests=3, rate_limit_reset_ms=20)
    simulator.faults.configure(server_error_requests=2)
    bot = tick_until(bot, lambda b: b.status == BotStatus.RUNNING and not b.orders.filter(status="pending"))

    assert bot.status == BotStatus.RUNNING
    placed = sim_orders(bot)
    assert set(placed.values()) == {1}, f"an order reached the venue twice: {placed}"
    assert len(placed) == 6  # the start trade and five grid orders
    assert set(bot.orders.values_list("client_order_id", flat=True)) == set(placed)
    assert not bot.orders.filter(status__in=[OrderStatus.PENDING, OrderStatus.LOST]).exists()
    grid = bot.orders.filter(purpose="grid")
    assert grid.filter(status=OrderStatus.OPEN).exclude(exchange_order_id="").count() == 5, (
        "adopted by client id"
    )
    assert bot.orders.get(purpose="start").status == OrderStatus.FILLED
    assert not BotEvent.objects.filter(bot=bot, kind=BotEventKind.ORDER_LOST).exists()
    left = simulator.faults.snapshot()
    assert (left["lose_order_responses"], left["rate_limit_requests"], left["server_error_requests"]) == (
        0,
        0,
        0,
    ), "every fault was met"


def test_an_exchange_that_stays_down_puts_the_bot_in_error_and_schedules_a_restart(
    simulator: BybitSimulator,
) -> None:
    bot = bybit_bot(simulator)
    simulator.faults.configure(server_error_requests=10_000)

    bot = tick_until(bot, lambda b: b.status == BotStatus.ERROR, ticks=engine.MAX_FAILURES + 1)

    assert bot.status == BotStatus.ERROR
    assert f"has not answered {engine.MAX_FAILURES} times in a row" in bot.status_reason
    assert "HTTP 503" in bot.status_reason
    assert bot.restart_at is not None
    assert bot.restart_at > timezone.now()
    warnings = BotEvent.objects.filter(bot=bot, kind=BotEventKind.WARNING).count()
    assert warnings == engine.MAX_FAILURES - 1, "each failure before the last backs off with a warning"
    assert not sim_orders(bot)


def test_a_rejected_key_puts_the_bot_in_error_without_restart(simulator: BybitSimulator) -> None:
    bot = bybit_bot(simulator)
    simulator.faults.configure(rejected_keys={KEY})

    engine.run_tick(bot.pk)

    bot.refresh_from_db()
    assert bot.status == BotStatus.ERROR
    assert bot.status_reason.startswith("The exchange refused the API key")
    assert "Re-check the key" in bot.status_reason
    assert bot.restart_at is None, "a refused key waits for the trader"


def test_counter_orders_delayed_by_a_fault_rest_on_the_book_and_never_trade_at_market(
    simulator: BybitSimulator,
) -> None:
    """The venue answers 5xx while the price swings through the grid: the fills happen, their
    counter-orders cannot go out. When it recovers, the price sits between levels those
    counter-orders have crossed meanwhile: sent as they were, buys above the price and a sell
    below it would all trade at market, at one price (a trader saw exactly that). Sent
    post-only, the venue refuses them; each waits until the price is back on its side."""
    config = grid_config(lower_price=D(50000), upper_price=D(58000), grid_count=8)
    bot = bybit_bot(simulator, config)
    bot = tick_until(bot, lambda b: b.status == BotStatus.RUNNING and not b.orders.filter(status="pending"))
    assert grid_prices(bot) == {"buy": [50000, 51000, 52000, 53000], "sell": [55000, 56000, 57000, 58000]}

    simulator.faults.configure(server_error_requests=10_000)
    moves = [market.set_price("BTCUSDT", D("56100"))]  # the 55,000 and 56,000 sells fill
    engine.run_tick(bot.pk)  # the venue answers 5xx: the bot sees nothing
    moves.append(market.set_price("BTCUSDT", D("51900")))  # the 53,000 and 52,000 buys fill
    engine.run_tick(bot.pk)
    moves.append(market.set_price("BTCUSDT", D("53500")))
    simulator.faults.reset()  # the venue is back
    bot = tick_until(bot, lambda b: not b.orders.filter(status="pending", sent_at__isnull=False), ticks=3)
    assert [len(fills) for fills in moves] == [2, 2, 0]
    engine.run_tick(bot.pk)  # books whatever the sends traded at once
    assert_no_grid_order_took(bot)

    # Their counter-orders: buys at 54,000 and 55,000 and a sell at 53,000 would have taken; the
    # sell at 54,000 rests. The venue refused the three (post-only); each waits, unsent.
    refused = bot.orders.filter(purpose=OrderPurpose.GRID, status=OrderStatus.REJECTED)
    assert sorted((o.side, o.price) for o in refused) == [("buy", 54000), ("buy", 55000), ("sell", 53000)]
    venue = exchange_for_account(bot.exchange_account)  # pybit, to the simulator
    for order in refused:
        state = venue.order("BTCUSDT", order.client_order_id)
        assert (state.status, state.reject_reason, state.post_only_refused) == (
            VenueStatus.REJECTED,
            "EC_PostOnlyWillTakeLiquidity",
            True,
        )
    waiting = bot.orders.filter(status=OrderStatus.PENDING, sent_at__isnull=True)
    assert sorted((o.side, o.price, o.attempt) for o in waiting) == [
        ("buy", 54000, 1),
        ("buy", 55000, 1),
        ("sell", 53000, 1),
    ]
    warnings = BotEvent.objects.filter(bot=bot, kind=BotEventKind.WARNING, message__contains="at market")
    assert warnings.count() == 3
    assert_one_live_order_per_interval(bot)

    # The price moves on: each waiting order goes out once the price is back on its side, rests,
    # and fills as a maker at its level.
    for price in ("54600", "52400", "55600", "53400", "56400"):
        market.set_price("BTCUSDT", D(price))
        bot = tick_until(bot, lambda b: not b.orders.filter(status="pending", sent_at__isnull=False), ticks=3)
        engine.run_tick(bot.pk)  # what the fills planned goes out
        assert_one_live_order_per_interval(bot)
    bot.refresh_from_db()
    assert bot.status == BotStatus.RUNNING

    grid_fills = assert_no_grid_order_took(bot)
    assert len(grid_fills) >= 12
    assert not bot.orders.filter(status=OrderStatus.PENDING, attempt__gt=0, sent_at__isnull=True).exclude(
        price=55000
    ), "every other refused order went out once the price came back"
    # No round trip at a loss: in each interval, every sell is above the buy before it.
    for interval in range(config.grid_count):
        trades = sorted((f.time, f.pk, f.side, f.price) for f in grid_fills if f.order.interval == interval)
        for (_, _, first, bought), (_, _, then, sold) in pairwise(trades):
            if (first, then) == ("buy", "sell"):
                assert sold > bought, f"interval {interval} bought at {bought} and sold at {sold}"


def grid_prices(bot: Bot) -> dict[str, list[int]]:
    orders = bot.orders.filter(purpose=OrderPurpose.GRID, status__in=LIVE_STATUSES)
    return {
        side: sorted(int(o.price) for o in orders if o.side == side and o.price) for side in ("buy", "sell")
    }


def assert_no_grid_order_took(bot: Bot) -> list[Fill]:
    """Every grid fill so far was a maker's, and the grid never bought and sold at one moment at
    one price: whenever it traded both ways at once, its buys were below its sells."""
    fills = list(Fill.objects.filter(bot=bot, order__purpose=OrderPurpose.GRID).select_related("order"))
    took = [(f.side, f.order.price, f.price) for f in fills if not f.is_maker]
    assert took == [], f"grid orders traded at market (side, limit, fill): {took}"
    for moment in {f.time for f in fills}:
        at = [f for f in fills if f.time == moment]
        buys = [f.price for f in at if f.side == "buy"]
        sells = [f.price for f in at if f.side == "sell"]
        assert not buys or not sells or max(buys) < min(sells), f"bought at {buys} and sold at {sells}"
    return fills


def assert_one_live_order_per_interval(bot: Bot) -> None:
    """Never lose track of an interval: each holds exactly the one order its state says."""
    bot.refresh_from_db()
    state = bot.grid_state
    assert state is not None
    live = Counter(
        (o.interval, o.cycle, o.side)
        for o in bot.orders.filter(purpose=OrderPurpose.GRID, status__in=LIVE_STATUSES)
    )
    wanted = Counter(
        (i.index, i.cycle, i.side.value) for i in state.intervals if i.quantity and not i.complete
    )
    assert live == wanted


@pytest.mark.parametrize("step", [BEFORE_SEND, AFTER_COMMIT])
def test_a_kill_around_the_exit_trade_still_sells_and_stops(
    trader: User, injector: Injector, clock: Clock, step: str
) -> None:
    """Killed as the exit trade is committed or sent: the next ticks send it (once) and stop."""
    market.set_price("BTCUSDT", START_PRICE)
    bot = actions.do_start_bot(paper_bot(trader, "Exit"))
    runs = Runs(injector, clock, bot, bot)
    runs.tick(bot)
    runs.tick(bot)
    actions.do_stop_bot(bot, sell_base=True)

    # The stopping tick cancels the grid, commits the exit trade (its one transaction), sends it.
    assert runs.tick(bot, KillPlan(step, 1))
    exit_trade = bot.orders.get(purpose="exit")
    assert exit_trade.status == OrderStatus.PENDING
    assert (exit_trade.sent_at is None) == (step == AFTER_COMMIT)

    assert not runs.settle(bot)
    assert bot.status == BotStatus.STOPPED
    assert bot.orders.filter(purpose="exit", status=OrderStatus.FILLED).count() == 1
