"""A DCA bot's worker killed at any step of a deal (the base order, a safety fill and its
take-profit re-placement, the close and the next deal's base order, a stop): no duplicate,
orphan or lost order, no fill lost or counted twice, no deal counted twice
(the grid's harness, bots/tests/test_faults.py, on a DCA bot)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest
from django.db import transaction

from accounts.models import User
from bots import actions
from bots.models import Bot, BotStatus
from bots.strategies import dca
from bots.tests import test_faults
from bots.tests.crash import STEPS, Clock, Injector, KillPlan
from bots.tests.test_dca_engine import CONFIG
from bots.tests.test_faults import QUOTE_START, START_PRICE, Runs
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper import market
from exchanges.paper.service import open_paper_account
from trading.models import LIVE_STATUSES, Order, OrderPurpose, OrderStatus

D = Decimal
# The grid's fault fixtures: a movable clock and a killable exchange.
clock = test_faults.clock
injector = test_faults.injector
SCENARIOS = 40


def dca_bot(owner: User, label: str, config: dca.DcaConfig = CONFIG) -> Bot:
    paper = open_paper_account(f"{label} paper", {"USDT": QUOTE_START})
    account = ExchangeAccount.objects.create(
        owner=owner,
        label=label,
        exchange=ExchangeName.PAPER,
        environment=Environment.PAPER,
        paper_account=paper,
    )
    return actions.do_create_bot(owner, account, label, config, START_PRICE, strategy="dca")


def deal_problems(bot: Bot) -> list[str]:
    """The state's orders are exactly the live ones, each once; every deal closed by exactly one
    completed closing order, and every base order's deal counted once."""
    bot.refresh_from_db()
    if bot.state is None:
        return []
    state = dca.state_from_json(bot.state)
    problems: list[str] = []
    if bot.status == BotStatus.RUNNING:
        live = [
            (o.interval, o.cycle)
            for o in Order.objects.filter(bot=bot, purpose=OrderPurpose.GRID, status__in=LIVE_STATUSES)
        ]
        if sorted(live) != sorted(dca.open_orders(state)):
            problems.append(f"live orders {sorted(live)}, the deal wants {sorted(dca.open_orders(state))}")
    closes = Order.objects.filter(
        bot=bot, interval__in=(CONFIG.tp_slot, CONFIG.sl_slot), status=OrderStatus.FILLED
    ).count()
    if closes != state.deals_closed:
        problems.append(f"{closes} closing orders filled, {state.deals_closed} deals counted")
    # A lost base order was placed again; a refused one withdrew its deal (not counted).
    base_orders = (
        Order.objects.filter(bot=bot, interval=0)
        .exclude(status__in=(OrderStatus.LOST, OrderStatus.REJECTED))
        .count()
    )
    if base_orders != state.deal:
        problems.append(f"{base_orders} base orders for {state.deal} deals")
    return problems


class DealRuns(Runs):
    """The grid's seeded kill scenarios; prices that wander 45,000-66,000 fill safety orders,
    take profits and open the next deal."""

    deals_closed = 0
    safety_fills = 0
    base_fills = 0  # scenarios in which a base order filled

    def settle(self, bot: Bot) -> list[str]:
        problems = super().settle(bot) or deal_problems(bot)
        if bot.state is not None:
            state = dca.state_from_json(bot.state)
            self.base_fills += Order.objects.filter(bot=bot, interval=0, status=OrderStatus.FILLED).exists()
            self.deals_closed += state.deals_closed
            self.safety_fills += state.safety_filled + sum(d.safety_orders_used for d in state.history)
        return problems


def test_a_dca_worker_killed_at_any_step_of_a_deal_leaves_exact_books(
    trader: User, injector: Injector, clock: Clock, request: pytest.FixtureRequest
) -> None:
    market.set_price("BTCUSDT", START_PRICE)
    starting = actions.do_start_bot(dca_bot(trader, "Starting"))
    running = actions.do_start_bot(dca_bot(trader, "Running"))
    runs = DealRuns(injector, clock, starting, running)
    for _ in range(3):
        runs.tick(running)
    running.refresh_from_db()
    assert running.status == BotStatus.RUNNING
    assert not deal_problems(running)

    for seed in range(SCENARIOS):
        runs.run(seed)

    report = ", ".join(f"{step} {runs.crashed[step]}/{runs.planned[step]}" for step in STEPS)
    report += f"; {runs.deals_closed} deals closed, {runs.safety_fills} safety fills"
    # The scenarios really went through deals: safety fills, closes and the next deal's start.
    assert runs.deals_closed >= 5, report
    assert runs.safety_fills >= 5, report
    request.node.add_report_section("call", "crash injection", report)
    for step in STEPS:
        assert runs.crashed[step] >= 2, f"too few kills at {step}: {report}"


def test_a_kill_mid_take_profit_never_counts_the_deal_twice(
    trader: User, injector: Injector, clock: Clock
) -> None:
    """Killed inside the transaction booking the take-profit's fill, then again after its
    commit: the deal is counted once, and the next deal has one base order."""
    market.set_price("BTCUSDT", START_PRICE)
    bot = actions.do_start_bot(dca_bot(trader, "Once"))
    runs = DealRuns(injector, clock, bot, bot)
    for _ in range(3):
        runs.tick(bot)
    market.set_price("BTCUSDT", D(56000))
    with transaction.atomic():
        assert runs.tick(bot, KillPlan("mid_fill_batch", 1))
    assert runs.tick(bot, KillPlan("after_commit", 1))
    assert not runs.settle(bot)
    state = dca.state_from_json(bot.state or {})
    assert state.deals_closed == 1
    assert state.deal == 2


def test_a_limit_base_order_killed_at_any_step_leaves_exact_books(
    trader: User, injector: Injector, clock: Clock
) -> None:
    """The deal waits in "opening" on a resting base order: a kill while it rests, fills or is
    cancelled by a stop never sends it twice nor loses it."""
    limit = replace(CONFIG, base_order_type=dca.BaseOrderType.LIMIT)
    market.set_price("BTCUSDT", START_PRICE)
    starting = actions.do_start_bot(dca_bot(trader, "Limit starting", limit))
    running = actions.do_start_bot(dca_bot(trader, "Limit running", limit))
    runs = DealRuns(injector, clock, starting, running)
    for _ in range(3):
        runs.tick(running)
    running.refresh_from_db()
    assert running.status == BotStatus.RUNNING
    assert dca.state_from_json(running.state or {}).phase is dca.Phase.OPENING
    assert not deal_problems(running)

    for seed in range(SCENARIOS // 2):
        runs.run(seed)
    # Each scenario forks the bot as it waits: the price came to its base order in several.
    assert runs.base_fills >= 3, runs.base_fills
