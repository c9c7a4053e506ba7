"""A futures grid on a Bybit account, through the real pybit client over HTTP to the local Bybit
simulator's linear endpoints (which trade on the paper market's perpetual): long, short and
neutral grids set their leverage, open and close their position level by level, every order
reaching the venue once, and a stop closes the position reduce-only."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from accounts.tests.factories import make_user
from bots import actions, engine
from bots.models import Bot, BotStatus
from bots.strategies import futures_grid as fg
from bots.tests import test_faults
from bots.tests.test_faults import KEY, SECRET, START_PRICE, sim_orders
from exchanges.models import CheckOutcome, Environment, ExchangeAccount, ExchangeName
from exchanges.paper import market
from exchanges.paper.models import PaperOrder, PaperPosition
from exchanges.simulator.server import BybitSimulator
from trading.models import Order, OrderPurpose
from trading.positions import PositionLedger

D = Decimal
simulator = test_faults.simulator  # the grid's: the simulator, with a funded key behind it

CONFIG = fg.FuturesGridConfig(
    symbol="BTCUSDT",
    lower_price=D(50000),
    upper_price=D(58000),
    grid_count=8,
    investment=D(1000),
    leverage=D(4),
)


def futures_bot(simulator: BybitSimulator, mode: fg.Mode) -> Bot:
    owner = make_user(email=f"bybit.futures.{mode}@example.com")
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
    config = replace(CONFIG, mode=mode)
    created = actions.do_create_bot(
        owner, account, "Bybit futures", config, START_PRICE, strategy="futures_grid"
    )
    return actions.do_start_bot(created)


def tick(bot: Bot, times: int = 1) -> None:
    for _ in range(times):
        engine.run_tick(bot.pk)
    bot.refresh_from_db()
    assert bot.status == BotStatus.RUNNING, bot.status_reason


def venue_position() -> Decimal:
    row = PaperPosition.objects.filter(account__api_key=KEY, symbol="BTCUSDT").first()
    return row.size if row is not None else D(0)


def books(bot: Bot) -> PositionLedger:
    bot.refresh_from_db()
    assert isinstance(bot.books, PositionLedger)
    return bot.books


def reduce_only_resting(bot: Bot) -> list[tuple[str, Decimal]]:
    prefix = f"gw{bot.pk}r{bot.run}-"
    return sorted(
        (order.side, order.price)
        for order in PaperOrder.objects.filter(
            account__api_key=KEY,
            client_order_id__startswith=prefix,
            category="linear",
            reduce_only=True,
            status__in=("new", "partially_filled"),
        )
    )


@pytest.mark.parametrize(
    ("mode", "away", "back", "opened"),
    [
        (fg.Mode.LONG, D(53000), D(54000), D(1)),  # a buy below adds to the long; it sells back
        (fg.Mode.SHORT, D(55000), D(54000), D(-1)),  # a sell above adds to the short; bought back
        (fg.Mode.NEUTRAL, D(53000), D(54000), D(1)),  # a long leg opens below, closes above
    ],
)
def test_a_futures_grid_trades_through_the_bybit_client(
    simulator: BybitSimulator, mode: fg.Mode, away: Decimal, back: Decimal, opened: Decimal
) -> None:
    bot = futures_bot(simulator, mode)
    tick(bot, 3)
    q = fg.state_from_json(bot.state or {}).quantity_per_order
    at_start = {fg.Mode.LONG: 4 * q, fg.Mode.SHORT: -4 * q, fg.Mode.NEUTRAL: D(0)}[mode]
    assert venue_position() == at_start
    assert books(bot).base == at_start
    assert PaperPosition.objects.get(account__api_key=KEY, symbol="BTCUSDT").leverage == D(4)
    if mode is not fg.Mode.NEUTRAL:
        assert len(reduce_only_resting(bot)) == 4  # the start's position, closed level by level

    market.set_price("BTCUSDT", away)
    tick(bot)
    assert venue_position() == at_start + opened * q
    assert books(bot).base == venue_position()

    market.set_price("BTCUSDT", back)
    tick(bot)
    assert venue_position() == at_start
    ledger = books(bot)
    assert ledger.base == at_start
    assert ledger.round_trips == 1
    assert ledger.realized > 0
    placed = sim_orders(bot)
    assert set(placed.values()) == {1}, f"an order reached the venue twice: {placed}"

    actions.do_stop_bot(bot, sell_base=True)
    for _ in range(3):
        engine.run_tick(bot.pk)
    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPED, bot.status_reason
    assert venue_position() == 0
    assert books(bot).base == 0
    exits = Order.objects.filter(bot=bot, purpose=OrderPurpose.EXIT)
    assert all(order.reduce_only for order in exits)
    assert exits.exists() == (mode is not fg.Mode.NEUTRAL)
