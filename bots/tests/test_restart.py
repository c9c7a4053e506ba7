"""A stopped bot started again runs a new run from scratch: its own start trade, its own grid and
fresh books, whatever the last run left behind (its start trade filled, its orders ended)."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from accounts.models import User
from bots import actions, engine
from bots.models import Bot, BotStatus
from bots.strategies import futures_grid as fg
from bots.tests.test_engine import settle
from bots.tests.test_futures_engine import LONG, position, start_bot, tick
from trading.models import Order, OrderPurpose, OrderStatus


def run_ticks(bot: Bot, times: int = 2) -> Bot:
    for _ in range(times):
        engine.run_tick(bot.pk)
    bot.refresh_from_db()
    return bot


def test_a_stopped_grid_started_again_lays_out_a_new_run(paper_bot: Bot) -> None:
    actions.do_start_bot(paper_bot)
    bot = run_ticks(paper_bot)
    assert bot.status == BotStatus.RUNNING
    actions.do_stop_bot(bot, sell_base=True)
    bot = settle(bot)
    assert bot.status == BotStatus.STOPPED
    sold = Order.objects.filter(bot=bot, purpose=OrderPurpose.EXIT).count()
    assert sold == 1

    actions.do_start_bot(bot)
    bot = run_ticks(bot)
    assert bot.status == BotStatus.RUNNING, bot.status_reason
    assert bot.run == 2
    starts = Order.objects.filter(bot=bot, purpose=OrderPurpose.START).order_by("id")
    assert [o.client_order_id.split("-")[0] for o in starts] == [f"gw{bot.pk}r1", f"gw{bot.pk}r2"]
    assert Order.objects.filter(bot=bot, status=OrderStatus.OPEN).count() > 0
    assert bot.books is not None

    # The second run's stop sells its own base too: the first run's sale is not this one's.
    actions.do_stop_bot(bot, sell_base=True)
    bot = settle(bot)
    assert bot.status == BotStatus.STOPPED, bot.status_reason
    exits = Order.objects.filter(bot=bot, purpose=OrderPurpose.EXIT).order_by("id")
    assert [o.client_order_id.split("-")[0] for o in exits] == [f"gw{bot.pk}r1", f"gw{bot.pk}r2"]
    assert exits[1].status == OrderStatus.FILLED


def test_a_stopped_futures_grid_started_again_opens_its_position_again(trader: User) -> None:
    bot = start_bot(trader, replace(LONG, mode=fg.Mode.SHORT))
    actions.do_stop_bot(bot, sell_base=True)
    tick(bot, 3)
    assert bot.status == BotStatus.STOPPED
    assert position(bot).is_flat

    actions.do_start_bot(bot)
    tick(bot, 2)
    assert bot.status == BotStatus.RUNNING, bot.status_reason
    assert bot.run == 2
    assert position(bot).size > 0
    assert bot.books is not None
    assert bot.books.base == -position(bot).size
    assert bot.books.realized == Decimal(0)  # the new run's books start afresh
