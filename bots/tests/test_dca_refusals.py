"""A DCA order that will never trade, on the paper venue: a later deal the account can no longer
fund, a base order the venue refuses, a short's stop it cannot pay for. The deal never sits in
"opening", is not counted, and the bot stops in error saying why, with the amounts."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from accounts.models import User
from bots import engine
from bots.models import Bot, BotEvent, BotEventKind, BotStatus
from bots.strategies import dca
from bots.tests.conftest import venue
from bots.tests.test_dca_engine import BTC, CONFIG, dca_bot, tick
from exchanges.paper import market
from exchanges.paper.instruments import INSTRUMENTS
from exchanges.paper.models import PaperBalance
from trading.models import Order, OrderStatus

D = Decimal


def withdraw(bot: Bot, asset: str, leave: str) -> None:
    """The trader takes funds out of the account at the venue, leaving `leave` free."""
    account = bot.exchange_account.paper_account
    PaperBalance.objects.filter(account=account, asset=asset).update(free=D(leave))


def halted(bot: Bot) -> dca.DcaState:
    bot.refresh_from_db()
    assert bot.status == BotStatus.ERROR, (bot.status, bot.status_reason)
    assert bot.state is not None
    return dca.state_from_json(bot.state)


def close_first_deal(bot: Bot) -> None:
    """The take-profit fills; the next deal's base order is decided in the same booking."""
    market.set_price("BTCUSDT", D(55000))
    engine.run_tick(bot.pk)


def test_a_later_deal_the_account_cannot_fund_never_opens_and_the_bot_says_why(trader: User) -> None:
    bot = dca_bot(trader)
    tick(bot, 3)
    withdraw(bot, "USDT", "40")  # the trader moved the rest out during the first deal
    close_first_deal(bot)

    state = halted(bot)
    assert state.phase is dca.Phase.WAITING  # not "opening": the deal never began
    assert state.deal == 1  # and it is not counted
    assert state.deals_closed == 1
    assert state.orders == ()
    # Max funds of a deal: 100 x 1.005 + 3 x 50 = 250.50 USDT, against what is free.
    assert "Deal 2 did not open" in bot.status_reason
    # The 40 USDT left, the take-profit's proceeds and the safety orders' funds given back.
    assert "It needs 250.50 USDT free; the account has 240.83 USDT available (9.67 USDT short)." in (
        bot.status_reason
    )
    base_order = Order.objects.get(bot=bot, interval=0, cycle=state.seq - 1)
    assert base_order.status == OrderStatus.REJECTED
    assert "250.50 USDT" in base_order.reject_reason
    # Nothing reached the venue: no base order, and the last deal's safety orders were cancelled.
    assert not venue(bot).open_orders("BTCUSDT")
    assert base_order.client_order_id not in {o.client_order_id for o in venue(bot).order_history("BTCUSDT")}
    assert BotEvent.objects.filter(bot=bot, kind=BotEventKind.ERROR, message=bot.status_reason).exists()


def test_a_base_order_the_venue_refuses_ends_the_deal_cleanly(
    trader: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = dca_bot(trader)
    tick(bot, 3)
    # The venue raises its smallest order above the base order (exchanges do change them).
    monkeypatch.setitem(INSTRUMENTS, "BTCUSDT", replace(BTC, min_amount=D(500)))
    close_first_deal(bot)

    state = halted(bot)
    assert state.phase is dca.Phase.WAITING
    assert state.deal == 1
    assert state.orders == ()
    assert bot.status_reason.startswith("Deal 2 did not open: its base order (buy 0.00183 BTC, about 99.96")
    assert "below the minimum of 500" in bot.status_reason  # the venue's own reason
    assert Order.objects.get(bot=bot, interval=0, cycle=state.seq - 1).status == OrderStatus.REJECTED


def test_a_short_bots_next_deal_needs_the_base_it_sells(trader: User) -> None:
    config = replace(CONFIG, direction=dca.Direction.SHORT)
    bot = dca_bot(trader, config, btc="0.1")
    tick(bot, 3)
    withdraw(bot, "BTC", "0")
    market.set_price("BTCUSDT", D(53000))  # bought back: the next deal would sell base again
    engine.run_tick(bot.pk)

    state = halted(bot)
    assert state.phase is dca.Phase.WAITING
    assert state.deal == 1
    assert state.deals_closed == 1
    assert state.last_close_price is not None  # the next deal is priced where the last closed
    needed = dca.short_base_needed(config, BTC, state.last_close_price)
    assert f"It needs {needed} BTC free; the account has 0.003676 BTC available" in bot.status_reason


def test_a_safety_order_the_venue_refuses_leaves_the_deal_without_it(trader: User) -> None:
    bot = dca_bot(trader)
    tick(bot, 3)
    withdraw(bot, "USDT", "0")
    market.set_price("BTCUSDT", D(53400))  # safety order 1 fills; its refill, number 3, is refused
    engine.run_tick(bot.pk)

    state = halted(bot)
    assert state.phase is dca.Phase.OPEN
    assert state.safety_filled == 1
    assert [o.slot for o in state.orders] == [2, 4]  # the refused refill is not waited for
    assert "Not enough funds" in bot.status_reason
    assert Order.objects.get(bot=bot, interval=3).status == OrderStatus.REJECTED


def test_a_short_stop_the_quote_cannot_pay_is_never_sent(trader: User) -> None:
    config = replace(CONFIG, direction=dca.Direction.SHORT, stop_loss=D(3))
    bot = dca_bot(trader, config, btc="0.1")
    state = tick(bot, 3)
    withdraw(bot, "USDT", "0")  # the quote set aside for the stop is gone; the sales' is not
    market.set_price("BTCUSDT", D(56500))  # safety orders 1 and 2 sell, then the stop is past
    engine.run_tick(bot.pk)
    market.set_price("BTCUSDT", D(57800))
    engine.run_tick(bot.pk)

    state = halted(bot)
    assert state.phase is dca.Phase.OPEN  # the deal is still open, and says so
    assert state.orders == ()
    assert "could not close at market (buy " in bot.status_reason
    assert "USDT short)." in bot.status_reason
    close = Order.objects.get(bot=bot, interval=config.sl_slot)
    assert close.status == OrderStatus.REJECTED
    assert close.client_order_id not in {o.client_order_id for o in venue(bot).order_history("BTCUSDT")}


def test_a_short_bot_with_a_stop_needs_the_quote_to_buy_back(trader: User) -> None:
    config = replace(CONFIG, direction=dca.Direction.SHORT, stop_loss=D(10))
    needed = dca.funds_needed(config, BTC, D(54000))
    # A whole deal (250 USDT sold) bought back 10% higher, with slippage and fees both ways.
    assert needed["USDT"] == dca.stop_quote_needed(config, BTC)
    assert D(26) < needed["USDT"] < D(29)
    assert "USDT" not in dca.funds_needed(replace(config, stop_loss=None), BTC, D(54000))
