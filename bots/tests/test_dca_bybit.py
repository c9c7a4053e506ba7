"""A DCA bot on a Bybit account, through the real pybit client over HTTP to the local Bybit
simulator (which trades on the paper market): a deal opens, a safety order fills, the
take-profit is moved and then closes the deal, the next deal starts; every order reaches the
venue once. A later deal the account cannot fund is refused before it is sent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.tests.factories import make_user
from bots import actions, engine
from bots.models import Bot, BotStatus
from bots.strategies import dca
from bots.tests import test_faults
from bots.tests.test_dca_engine import CONFIG
from bots.tests.test_faults import KEY, SECRET, START_PRICE, sim_orders
from exchanges.models import CheckOutcome, Environment, ExchangeAccount, ExchangeName
from exchanges.paper import market
from exchanges.paper.models import PaperBalance, PaperOrder
from exchanges.simulator.server import BybitSimulator
from trading.models import Order, OrderPurpose, OrderStatus

D = Decimal
simulator = test_faults.simulator  # the grid's: the simulator, with a funded key behind it


@pytest.fixture
def bot(simulator: BybitSimulator) -> Bot:
    owner = make_user(email="bybit.dca@example.com")
    account = ExchangeAccount(
        owner=owner,
        label="Bybit sim",
        exchange=ExchangeName.BYBIT,
        environment=Environment.CUSTOM,
        base_url=simulator.url,
    )
    account.set_credentials(KEY, SECRET)
    account.record_check(CheckOutcome.OK, [])
    account.save()
    created = actions.do_create_bot(owner, account, "Bybit DCA", CONFIG, START_PRICE, strategy="dca")
    return actions.do_start_bot(created)


def tick(bot: Bot, times: int = 1) -> dca.DcaState:
    for _ in range(times):
        engine.run_tick(bot.pk)
    bot.refresh_from_db()
    assert bot.status == BotStatus.RUNNING, bot.status_reason
    assert bot.state is not None
    return dca.state_from_json(bot.state)


def resting_slots(bot: Bot) -> list[int]:
    """The slots of the bot's orders the simulator has open."""
    prefix = f"gw{bot.pk}r{bot.run}-"
    open_ids = PaperOrder.objects.filter(
        account__api_key=KEY, client_order_id__startswith=prefix, status__in=("new", "partially_filled")
    ).values_list("client_order_id", flat=True)
    return sorted(Order.objects.get(client_order_id=i).interval or 0 for i in open_ids)


def test_a_dca_bot_trades_deal_after_deal_through_the_bybit_client(bot: Bot) -> None:
    state = tick(bot, 3)
    assert state.phase is dca.Phase.OPEN
    assert resting_slots(bot) == [1, 2, 4]  # two safety orders and the take-profit
    first_tp = Order.objects.get(bot=bot, interval=4)

    market.set_price("BTCUSDT", D(53400))  # safety order 1 fills on the venue
    state = tick(bot)
    assert state.safety_filled == 1
    assert resting_slots(bot) == [2, 3, 4]
    first_tp.refresh_from_db()
    assert first_tp.status == OrderStatus.CANCELLED  # moved to the new average entry
    assert Order.objects.filter(bot=bot, interval=4, status=OrderStatus.OPEN).count() == 1

    market.set_price("BTCUSDT", D(54500))  # the take-profit fills; the next deal opens
    state = tick(bot, 2)
    assert state.deals_closed == 1
    assert state.deal == 2
    assert state.phase is dca.Phase.OPEN
    [deal] = state.history
    assert deal.reason is dca.CloseReason.TAKE_PROFIT
    assert deal.safety_orders_used == 1
    assert deal.profit > 0
    assert resting_slots(bot) == [1, 2, 4]
    placed = sim_orders(bot)
    assert set(placed.values()) == {1}, f"an order reached the venue twice: {placed}"
    ours = Order.objects.filter(bot=bot).exclude(purpose=OrderPurpose.START)  # the start trades nothing
    assert set(placed) == set(ours.values_list("client_order_id", flat=True))
    books = bot.books
    assert books is not None
    assert books.round_trips == 1


def test_a_later_deal_the_bybit_account_cannot_fund_is_never_sent(bot: Bot) -> None:
    tick(bot, 3)
    PaperBalance.objects.filter(account__api_key=KEY, asset="USDT").update(free=D(0))
    market.set_price("BTCUSDT", D(55000))
    engine.run_tick(bot.pk)

    bot.refresh_from_db()
    assert bot.status == BotStatus.ERROR
    assert bot.status_reason.startswith("Deal 2 did not open: its base order (buy ")
    assert "It needs 250.50 USDT free" in bot.status_reason
    state = dca.state_from_json(bot.state or {})
    assert (state.phase, state.deal, state.deals_closed) == (dca.Phase.WAITING, 1, 1)
    refused = Order.objects.get(bot=bot, interval=0, status=OrderStatus.REJECTED)
    assert refused.client_order_id not in sim_orders(bot)
    assert resting_slots(bot) == []  # the first deal's safety orders were cancelled


def test_a_base_order_whose_reply_is_lost_is_found_not_placed_again(
    bot: Bot, simulator: BybitSimulator
) -> None:
    """A transient failure is no refusal: the deal waits in "opening" while the order's outcome
    is unknown, and the reconcile finds it at the venue by its client id."""
    tick(bot, 3)
    market.set_price("BTCUSDT", D(55000))
    simulator.faults.configure(lose_order_responses=1, lose_mode="drop")
    state = tick(bot)  # the take-profit is booked; the next base order reaches Bybit, its reply not
    assert state.phase is dca.Phase.OPENING
    base_order = Order.objects.get(bot=bot, interval=0, cycle=state.seq - 1)
    assert base_order.status == OrderStatus.PENDING
    assert base_order.sent_at is not None

    state = tick(bot, 2)
    assert state.phase is dca.Phase.OPEN
    assert state.deal == 2
    base_order.refresh_from_db()
    assert base_order.status == OrderStatus.FILLED
    assert set(sim_orders(bot).values()) == {1}  # nothing went out twice
    assert not Order.objects.filter(bot=bot, status__in=(OrderStatus.LOST, OrderStatus.REJECTED)).exists()
