"""A DCA bot through the Bybit simulator with the real pybit client over HTTP: a deal opens at
market, a safety order fills, the take-profit closes the deal, and the next deal starts; the
books agree with what the venue says the account holds."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from decimal import Decimal

import pytest

from accounts.tests.factories import make_user
from bots import actions, engine
from bots.models import Bot, BotStatus
from bots.strategies import dca
from bots.tests.test_dca_engine import CONFIG
from exchanges.base import OrderType, Side
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper import market
from exchanges.registry import exchange_for_account
from exchanges.simulator.server import BybitSimulator, running_simulator
from trading.models import LIVE_STATUSES, Order

D = Decimal
KEY, SECRET = "dca-key", "dca-secret"
USDT = D(2000)


@pytest.fixture
def simulator(transactional_db: None) -> Iterator[BybitSimulator]:
    market.set_price("BTCUSDT", D(54000))
    market.set_price("ETHUSDT", D(1600))  # the wallet values every listed market at its price
    with running_simulator() as running:
        running.add_key(KEY, SECRET, balances={"USDT": USDT})
        yield running


@pytest.fixture
def bybit_account(simulator: BybitSimulator) -> ExchangeAccount:
    account = ExchangeAccount(
        owner=make_user(), label="Bybit sim", exchange=ExchangeName.BYBIT, environment=Environment.CUSTOM,
        base_url=simulator.url,
    )  # fmt: skip
    account.set_credentials(KEY, SECRET)
    account.save()
    return account


def tick(bot: Bot, times: int = 1) -> dca.DcaState:
    for _ in range(times):
        engine.run_tick(bot.pk)
    bot.refresh_from_db()
    assert bot.status == BotStatus.RUNNING, bot.status_reason
    assert bot.state is not None
    return dca.state_from_json(bot.state)


@pytest.mark.slow
def test_a_dca_deal_runs_its_whole_cycle_through_pybit_and_the_simulator(
    bybit_account: ExchangeAccount,
) -> None:
    config = replace(CONFIG, max_deals=2)
    exchange = exchange_for_account(bybit_account)
    assert type(exchange).__name__ == "BybitExchange", "the real pybit adapter, over HTTP"
    price = actions.check_bot_config(bybit_account, config, strategy="dca")
    bot = actions.do_create_bot(bybit_account.owner, bybit_account, "BTC DCA", config, price, strategy="dca")
    bot = actions.do_start_bot(bot)

    state = tick(bot, 3)
    assert state.phase is dca.Phase.OPEN
    base = Order.objects.get(bot=bot, interval=0)
    assert (base.order_type, base.side, base.status) == (OrderType.MARKET, Side.BUY, "filled")
    assert state.reference_price == base.average_price
    resting = sorted((o.side, o.price) for o in exchange.open_orders("BTCUSDT"))
    safety_1 = dca.safety_price(config, exchange.instrument("BTCUSDT"), state.reference_price, 1)
    assert (Side.BUY, safety_1) in resting
    assert len(resting) == 3  # two active safety orders and the take-profit

    market.set_price("BTCUSDT", safety_1 - 10)  # the first safety order fills
    state = tick(bot, 2)
    assert state.safety_filled == 1
    assert state.average_entry is not None
    assert state.reference_price is not None
    assert state.average_entry < state.reference_price

    market.set_price("BTCUSDT", D(55500))  # the take-profit fills; the second deal opens
    state = tick(bot, 3)
    assert state.deals_closed == 1
    assert state.deal == 2
    assert state.phase is dca.Phase.OPEN
    [deal] = state.history
    assert deal.reason is dca.CloseReason.TAKE_PROFIT
    assert deal.safety_orders_used == 1
    assert deal.profit > 0

    live = {o.client_order_id for o in Order.objects.filter(bot=bot, status__in=LIVE_STATUSES)}
    assert live == {o.client_order_id for o in exchange.open_orders("BTCUSDT")}
    books = bot.books
    assert books is not None
    held = exchange.balances()
    assert held["BTC"].total == books.base
    assert held["USDT"].total == USDT - books.investment + books.quote

    actions.do_stop_bot(bot)
    for _ in range(3):
        engine.run_tick(bot.pk)
    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPED
    assert not exchange.open_orders("BTCUSDT")
