"""Selling the base on exit splits the sale into market orders the venue takes: Bybit refuses a
market order above the instrument's `max_market_quantity` (41.5 BTC for BTCUSDT). Each part has
its own client order id, committed as a pending order before any is sent, so a worker killed
between parts sends the rest and never one twice."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest

from accounts.models import User
from bots import actions, engine, ids
from bots.models import Bot, BotEvent, BotStatus
from bots.tests.crash import (
    AFTER_COMMIT,
    BEFORE_SEND,
    REPLY_LOST,
    Clock,
    Injector,
    KillPlan,
    books_problems,
    unsettled,
)
from bots.tests.factories import grid_config
from bots.tests.test_engine import settle, started
from bots.tests.test_faults import Runs, clock, injector
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper import instruments, market
from exchanges.paper.models import PaperBalance, PaperOrder
from exchanges.paper.service import open_paper_account
from trading.models import OrderPurpose, OrderStatus
from trading.numbers import plain

__all__ = ["clock", "injector"]  # the fault tests' fixtures

D = Decimal
QUOTE_START = D("6000000")
BTCUSDT = instruments.instrument_for("BTCUSDT")


def whale(owner: User) -> Bot:
    """A grid laid out just under 64,000 with every level a buy, ready for the price to fall."""
    market.set_price("BTCUSDT", D("64000"))
    paper = open_paper_account("Whale paper", {"USDT": QUOTE_START})
    account = ExchangeAccount.objects.create(
        owner=owner,
        label="Whale",
        exchange=ExchangeName.PAPER,
        environment=Environment.PAPER,
        paper_account=paper,
    )
    config = grid_config(investment=D("5310000"))
    return actions.do_create_bot(owner, account, "Whale", config, D("64000"))


def holding_about_100_btc(bot: Bot, tick: Callable[[Bot], object]) -> Bot:
    market.set_price("BTCUSDT", D("44000"))  # every buy fills
    for _ in range(2):
        tick(bot)
    bot.refresh_from_db()
    books = bot.books
    assert books is not None
    assert D("100") < books.base < D("100.2")
    return bot


def exit_parts(bot: Bot) -> list[tuple[str, Decimal]]:
    """The sale's orders, but for one the venue never received (re-placed under a new attempt)."""
    sale = bot.orders.filter(purpose=OrderPurpose.EXIT).exclude(status=OrderStatus.LOST)
    return list(sale.order_by("id").values_list("client_order_id", "quantity"))


def expected_parts(base: Decimal) -> list[Decimal]:
    return [D("41.5"), D("41.5"), BTCUSDT.round_quantity(base - 83)]


def btc_held(bot: Bot) -> Decimal:
    balance = PaperBalance.objects.filter(account=bot.exchange_account.paper_account, asset="BTC").first()
    return balance.free + balance.locked if balance else D(0)


def test_a_stop_sells_100_btc_in_three_market_orders_each_within_the_venues_maximum(trader: User) -> None:
    bot = holding_about_100_btc(started(whale(trader)), lambda b: engine.run_tick(b.pk))
    base = bot.books.base  # type: ignore[union-attr]

    actions.do_stop_bot(bot, sell_base=True)
    bot = settle(bot)

    assert bot.status == BotStatus.STOPPED
    prefix = ids.bot_prefix(bot.pk, bot.run)
    parts = exit_parts(bot)
    assert [client_id for client_id, _ in parts] == [f"{prefix}exit", f"{prefix}exit2", f"{prefix}exit3"]
    assert [quantity for _, quantity in parts] == expected_parts(base)
    assert set(bot.orders.filter(purpose=OrderPurpose.EXIT).values_list("status", flat=True)) == {
        OrderStatus.FILLED
    }
    dust = base - sum(quantity for _, quantity in parts)
    assert D(0) < dust < BTCUSDT.quantity_step
    assert btc_held(bot) == dust
    assert books_problems(bot, quote_start=QUOTE_START) == []
    messages = list(BotEvent.objects.filter(bot=bot).values_list("message", flat=True))
    total = sum(quantity for _, quantity in parts)
    venue = bot.exchange_account.get_exchange_display()
    selling = f"Selling {plain(total)} BTC in 3 market orders: {venue} takes at most 41.5 BTC in one."
    assert selling in messages
    smallest = plain(BTCUSDT.min_quantity_at(D("44000")))
    left = f"{plain(dust)} BTC left unsold as dust: below the smallest order the exchange takes "
    left += f"({smallest} BTC)."
    assert left in messages


@pytest.mark.parametrize(
    "kill",
    [
        KillPlan(BEFORE_SEND, 2),  # the first part sold, the second never sent
        KillPlan(REPLY_LOST, 1),  # the first part sold, its answer lost
        KillPlan(REPLY_LOST, 2),  # two parts sold, the second's answer lost
        KillPlan(BEFORE_SEND, 3),  # two parts sold, the last never sent
        KillPlan(AFTER_COMMIT, 1),  # the parts committed, none sent
    ],
    ids=lambda plan: f"{plan.step}-{plan.ordinal}",
)
def test_a_worker_killed_between_parts_sells_the_base_exactly_once(
    trader: User, injector: Injector, clock: Clock, kill: KillPlan
) -> None:
    bot = whale(trader)
    runs = Runs(injector, clock, bot, bot)
    actions.do_start_bot(bot)
    runs.tick(bot)
    runs.tick(bot)
    bot = holding_about_100_btc(bot, runs.tick)
    base = bot.books.base  # type: ignore[union-attr]
    actions.do_stop_bot(bot, sell_base=True)

    assert runs.tick(bot, kill), "the worker died during the sale"
    for _ in range(8):
        runs.tick(bot)
        bot.refresh_from_db()
        if bot.status == BotStatus.STOPPED and not unsettled(bot):
            break
        clock.advance(engine.LOST_AFTER + timedelta(seconds=1))

    assert bot.status == BotStatus.STOPPED
    prefix = ids.bot_prefix(bot.pk, bot.run)
    on_venue = PaperOrder.objects.filter(client_order_id__startswith=f"{prefix}exit")
    sent = on_venue.values_list("client_order_id", flat=True)
    intents = Counter(re.sub(r"-a\d+$", "", client_id) for client_id in sent)
    assert intents == {f"{prefix}exit": 1, f"{prefix}exit2": 1, f"{prefix}exit3": 1}, "each part sold once"
    assert sorted(quantity for _, quantity in exit_parts(bot)) == sorted(expected_parts(base))
    assert btc_held(bot) == base - sum(expected_parts(base))
    assert books_problems(bot, quote_start=QUOTE_START) == []


@pytest.mark.parametrize(
    ("base", "parts", "dust"),
    [
        (D("100"), ["41.5", "41.5", "17"], "0"),
        (D("83.00001"), ["41.5", "41.5"], "0.00001"),  # the rest is below the minimum
        (D("41.5"), ["41.5"], "0"),
        (D("12.3456789"), ["12.345678"], "0.0000009"),  # rounded down to the lot step
        (D("0.00004"), [], "0.00004"),  # all of it below the minimum
    ],
)
def test_the_sale_is_cut_at_the_market_maximum_and_the_rest_below_the_minimum_is_dust(
    base: Decimal, parts: list[str], dust: str
) -> None:
    sale = engine.exit_sale(base, BTCUSDT, D("54000"))
    assert sale.parts == [D(part) for part in parts]
    assert sale.dust == D(dust)


def test_the_largest_value_per_order_also_cuts_the_sale() -> None:
    price = D("400000")  # 41.5 BTC would be 16,600,000 USDT, above the 8,000,000 per order
    sale = engine.exit_sale(D("30"), BTCUSDT, price)
    assert sale.parts == [D("20"), D("10")]
    assert all(part * price <= BTCUSDT.max_amount for part in sale.parts)
