"""A futures grid's worker killed at any step (the leverage and the start's market order, a
level's fill and its reduce-only close, a stop that closes the position): no duplicate, orphan or
lost order, no fill lost or counted twice, and the books' position and equity the venue's
(the grid's harness, bots/tests/test_faults.py, on a futures grid)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from accounts.models import User
from bots import actions
from bots.models import Bot, BotStatus
from bots.strategies import futures_grid as fg
from bots.tests import test_faults
from bots.tests.crash import STEPS, Clock, Injector
from bots.tests.test_faults import QUOTE_START, START_PRICE, Runs
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper import market
from exchanges.paper.models import PaperPosition
from exchanges.paper.service import open_paper_account
from trading.models import LIVE_STATUSES, Order, OrderPurpose

D = Decimal
clock = test_faults.clock
injector = test_faults.injector
SCENARIOS = 40

# Wide enough for the harness's wandering prices (45,000-66,000), at a leverage no such move
# liquidates.
CONFIG = fg.FuturesGridConfig(
    symbol="BTCUSDT",
    lower_price=D(44000),
    upper_price=D(68000),
    grid_count=12,
    investment=D(1000),
    leverage=D(2),
)


def futures_bot(owner: User, label: str, config: fg.FuturesGridConfig) -> Bot:
    paper = open_paper_account(f"{label} paper", {"USDT": QUOTE_START})
    account = ExchangeAccount.objects.create(
        owner=owner,
        label=label,
        exchange=ExchangeName.PAPER,
        environment=Environment.PAPER,
        paper_account=paper,
    )
    return actions.do_create_bot(owner, account, label, config, START_PRICE, strategy="futures_grid")


def level_problems(bot: Bot) -> list[str]:
    """A running grid holds one live order per interval, the one its state names, reduce-only
    exactly where it closes."""
    bot.refresh_from_db()
    if bot.state is None or bot.status != BotStatus.RUNNING:
        return []
    state = fg.state_from_json(bot.state)
    live = {
        (o.interval or 0, o.cycle): o
        for o in Order.objects.filter(bot=bot, purpose=OrderPurpose.GRID, status__in=LIVE_STATUSES)
    }
    wanted = {(i.index, i.cycle): i for i in state.intervals if not i.complete}
    if sorted(live) != sorted(wanted):
        # The history of the levels that differ says how they came to.
        differing = {key[0] for key in set(wanted) ^ set(live)}
        rows = [
            (o.interval, o.cycle, o.side, o.status, o.reject_reason, o.reduce_only, o.attempt)
            for o in Order.objects.filter(bot=bot, interval__in=differing)
        ]
        return [f"live orders {sorted(live)}, the grid wants {sorted(wanted)}; {rows}"]
    return [
        f"interval {key[0]}'s order is reduce-only={order.reduce_only}"
        for key, order in live.items()
        if order.reduce_only != wanted[key].reduce_only
    ]


class PositionRuns(Runs):
    fills = 0
    closed_positions = 0

    def settle(self, bot: Bot) -> list[str]:
        problems = super().settle(bot) or level_problems(bot)
        self.fills += bot.fills.count()
        held = PaperPosition.objects.filter(account=bot.exchange_account.paper_account).first()
        self.closed_positions += bot.status == BotStatus.STOPPED and (held is None or held.size == 0)
        return problems


@pytest.mark.parametrize("mode", [fg.Mode.LONG, fg.Mode.SHORT, fg.Mode.NEUTRAL])
def test_a_futures_worker_killed_at_any_step_leaves_exact_books(
    trader: User, injector: Injector, clock: Clock, request: pytest.FixtureRequest, mode: fg.Mode
) -> None:
    market.set_price("BTCUSDT", START_PRICE)
    config = replace(CONFIG, mode=mode)
    starting = actions.do_start_bot(futures_bot(trader, "Starting", config))
    running = actions.do_start_bot(futures_bot(trader, "Running", config))
    runs = PositionRuns(injector, clock, starting, running)
    for _ in range(3):
        runs.tick(running)
    running.refresh_from_db()
    assert running.status == BotStatus.RUNNING, running.status_reason
    assert not level_problems(running)

    for seed in range(SCENARIOS):
        runs.run(seed)

    report = ", ".join(f"{step} {runs.crashed[step]}/{runs.planned[step]}" for step in STEPS)
    report += f"; {runs.fills} fills, {runs.closed_positions} stops that closed the position"
    request.node.add_report_section("call", "crash injection", report)
    assert runs.fills >= 20, report
    for step in STEPS:
        assert runs.crashed[step] >= 2, f"too few kills at {step}: {report}"
