"""A futures grid through the engine on the paper venue's USDT perpetual: long, short and
neutral trade, the books agree with the venue's position, funding is booked, a stop closes the
position, a liquidation ends the bot in error, and the guard stops it before liquidation."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from unittest.mock import patch

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.tests.api import bearer
from bots import actions, engine
from bots.futures_previews import check_futures_preview
from bots.models import Bot, BotEvent, BotStatus
from bots.strategies import futures_grid as fg
from bots.tests.conftest import paper_account_for, venue
from exchanges.base import InstrumentKind, OrderRequest, OrderType, Position, PositionSide, Side
from exchanges.paper import market
from trading.models import LIVE_STATUSES, Order, OrderPurpose
from trading.positions import PositionLedger
from trading.templatetags.money import format_amount

D = Decimal
START = D(50000)
ACCOUNT_USDT = D(5000)
LINEAR = InstrumentKind.LINEAR

LONG = fg.FuturesGridConfig(
    symbol="BTCUSDT",
    lower_price=D(45000),
    upper_price=D(55000),
    grid_count=10,
    investment=D(1000),
    leverage=D(3),
    mode=fg.Mode.LONG,
)


def created(trader: User, config: fg.FuturesGridConfig = LONG) -> Bot:
    market.set_price("BTCUSDT", START)
    account = paper_account_for(trader, str(ACCOUNT_USDT))
    price = check_futures_preview(account, config).price
    return actions.do_create_bot(trader, account, "BTC futures", config, price, strategy="futures_grid")


def start_bot(trader: User, config: fg.FuturesGridConfig = LONG) -> Bot:
    bot = actions.do_start_bot(created(trader, config))
    tick(bot, 2)
    return bot


@contextmanager
def freeze(moment: datetime) -> Iterator[None]:
    """The engine's clock at `moment`: a funding time has passed for it too."""
    with patch.object(timezone, "now", lambda: moment):
        yield


def tick(bot: Bot, times: int = 1) -> None:
    for _ in range(times):
        engine.run_tick(bot.pk)
    bot.refresh_from_db()


def running(bot: Bot) -> fg.FuturesGridState:
    assert bot.status == BotStatus.RUNNING, bot.status_reason
    assert bot.state is not None
    return fg.state_from_json(bot.state)


def position(bot: Bot) -> Position:
    return venue(bot).positions("BTCUSDT")[0]


def books(bot: Bot) -> PositionLedger:
    bot.refresh_from_db()
    ledger = bot.books
    assert isinstance(ledger, PositionLedger)
    return ledger


def assert_books_agree_with_the_venue(bot: Bot) -> None:
    """The books' position is the venue's, and their equity is the account's USDT plus the
    position's unrealised PnL, less what the account held beside the investment."""
    ledger, held = books(bot), position(bot)
    assert ledger.base == held.signed_size
    usdt = venue(bot).balances()["USDT"]
    venue_equity = usdt.free + usdt.locked + held.unrealised_pnl - (ACCOUNT_USDT - ledger.investment)
    mark = market.last_price("BTCUSDT")
    summary = ledger.summary(mark)
    assert abs(summary.equity - venue_equity) < D("1e-9"), (summary.equity, venue_equity)
    assert summary.grid_profit + summary.unrealized_pnl + summary.funding == summary.total_pnl


def resting(bot: Bot) -> list[tuple[Side, Decimal, bool]]:
    ours = {o.client_order_id: o for o in Order.objects.filter(bot=bot)}
    return sorted(
        (o.side, o.price or D(0), ours[o.client_order_id].reduce_only)
        for o in venue(bot).open_orders("BTCUSDT", kind=LINEAR)
    )


def test_a_long_grid_opens_its_position_at_start_and_closes_it_level_by_level(trader: User) -> None:
    bot = start_bot(trader)
    state = running(bot)
    q = state.quantity_per_order
    held = position(bot)
    assert (held.side, held.size, held.leverage) == (PositionSide.LONG, 5 * q, D(3))
    assert resting(bot) == [
        *((Side.BUY, D(price), False) for price in (45000, 46000, 47000, 48000, 49000)),
        *((Side.SELL, D(price), True) for price in (51000, 52000, 53000, 54000, 55000)),
    ]
    assert_books_agree_with_the_venue(bot)

    market.set_price("BTCUSDT", D(51000))
    tick(bot)
    assert position(bot).size == 4 * q
    assert (Side.BUY, D(50000), False) in resting(bot)  # the sell's counter-order re-opens
    ledger = books(bot)
    assert ledger.round_trips == 1
    assert ledger.realized > 0
    assert_books_agree_with_the_venue(bot)

    market.set_price("BTCUSDT", D(48500))
    tick(bot)
    assert position(bot).size == 6 * q  # 50,000 and 49,000 bought
    assert (Side.SELL, D(50000), True) in resting(bot)
    assert (Side.SELL, D(51000), True) in resting(bot)
    assert_books_agree_with_the_venue(bot)


def test_a_short_grid_mirrors_it(trader: User) -> None:
    bot = start_bot(trader, replace(LONG, mode=fg.Mode.SHORT))
    q = running(bot).quantity_per_order
    assert (position(bot).side, position(bot).size) == (PositionSide.SHORT, 5 * q)
    assert books(bot).base == -5 * q
    market.set_price("BTCUSDT", D(49000))
    tick(bot)
    assert position(bot).size == 4 * q
    assert (Side.SELL, D(50000), False) in resting(bot)
    assert books(bot).round_trips == 1
    assert books(bot).realized > 0
    assert_books_agree_with_the_venue(bot)


def test_a_neutral_grid_starts_flat_and_counts_a_trip_when_a_leg_closes(trader: User) -> None:
    bot = start_bot(trader, replace(LONG, mode=fg.Mode.NEUTRAL))
    assert position(bot).is_flat
    assert not any(reduce_only for _, _, reduce_only in resting(bot))
    market.set_price("BTCUSDT", D(49000))
    tick(bot)
    assert position(bot).side is PositionSide.LONG
    assert (Side.SELL, D(50000), True) in resting(bot)
    market.set_price("BTCUSDT", D(50000))
    tick(bot)
    assert position(bot).is_flat
    ledger = books(bot)
    assert (ledger.round_trips, ledger.base) == (1, 0)
    assert ledger.realized > 0
    assert_books_agree_with_the_venue(bot)


def test_funding_the_venue_settles_is_booked_once(trader: User) -> None:
    bot = start_bot(trader)
    later = timezone.now() + timedelta(hours=9)
    market.set_price("BTCUSDT", START, at=later)
    with freeze(later):
        tick(bot, 3)
    payments = venue(bot).funding_payments("BTCUSDT")  # one or two funding times passed
    assert payments
    assert all(payment.amount < 0 for payment in payments)  # a long pays at a positive rate
    paid = sum(payment.amount for payment in payments)
    ledger = books(bot)
    assert ledger.funding == paid == position(bot).funding
    assert ledger.summary(START).funding == paid
    assert_books_agree_with_the_venue(bot)
    notes = BotEvent.objects.filter(bot=bot, message__startswith="Funding paid: ")
    assert notes.count() == len(payments)
    with freeze(later):
        figures = bearer(trader, "read").get(f"/api/v1/bots/{bot.pk}/pnl/").json()
    assert D(figures["funding"]) == paid
    parts = D(figures["grid_profit"]) + D(figures["unrealized_pnl"]) + D(figures["funding"])
    assert parts == D(figures["total_pnl"])


def test_a_stop_that_closes_the_position_leaves_the_account_flat(trader: User) -> None:
    bot = start_bot(trader, replace(LONG, mode=fg.Mode.SHORT))
    actions.do_stop_bot(bot, sell_base=True)
    tick(bot, 3)
    assert bot.status == BotStatus.STOPPED, bot.status_reason
    assert position(bot).is_flat
    exit_orders = Order.objects.filter(bot=bot, purpose=OrderPurpose.EXIT)
    assert [(o.side, o.reduce_only) for o in exit_orders] == [(Side.BUY, True)]
    assert books(bot).base == 0
    assert venue(bot).open_orders("BTCUSDT", kind=LINEAR) == []


def test_a_stop_that_keeps_the_position_leaves_it_open(trader: User) -> None:
    bot = start_bot(trader)
    actions.do_stop_bot(bot, sell_base=False)
    tick(bot, 2)
    assert bot.status == BotStatus.STOPPED
    assert position(bot).side is PositionSide.LONG
    assert venue(bot).open_orders("BTCUSDT", kind=LINEAR) == []


def test_a_liquidation_ends_the_bot_in_error_and_books_the_lost_margin(trader: User) -> None:
    bot = start_bot(trader, replace(LONG, leverage=D(10), lower_price=D(48000), upper_price=D(52000)))
    liquidation = position(bot).liquidation_price
    assert liquidation is not None
    market.set_price("BTCUSDT", D(46000), low=liquidation - 1000)
    tick(bot)
    assert bot.status == BotStatus.ERROR
    assert bot.status_reason.startswith("Liquidated: BTCUSDT's mark price reached the liquidation price")
    ledger = books(bot)
    assert ledger.base == 0
    assert ledger.realized < 0
    assert not Order.objects.filter(bot=bot, status__in=LIVE_STATUSES).exists()


def test_the_guard_stops_the_bot_and_closes_the_position_near_liquidation(trader: User) -> None:
    bot = start_bot(trader, replace(LONG, leverage=D(10), liquidation_stop_distance=D(5)))
    liquidation = position(bot).liquidation_price
    assert liquidation is not None
    market.set_price("BTCUSDT", (liquidation * D("1.03")).quantize(D("0.1")))
    tick(bot, 4)
    assert bot.status == BotStatus.STOPPED, bot.status_reason
    assert position(bot).is_flat
    messages = list(BotEvent.objects.filter(bot=bot).values_list("message", flat=True))
    assert any("within your 5%: stopping and closing the position" in m for m in messages)
    assert "Liquidation price near: stopping and closing the position." in messages


def test_a_symbol_with_a_position_already_is_refused_at_the_start(trader: User) -> None:
    bot = created(trader)
    paper = venue(bot)
    paper.set_leverage("BTCUSDT", D(2))
    paper.place_order(
        OrderRequest("BTCUSDT", Side.SELL, OrderType.MARKET, D("0.01"), "manual-1", kind=LINEAR)
    )
    bot = actions.do_start_bot(bot)
    tick(bot)
    assert bot.status == BotStatus.ERROR
    assert "already holds a short position of 0.01 on BTCUSDT" in bot.status_reason
    assert not Order.objects.filter(bot=bot).exclude(quantity=0).exists()


@pytest.mark.parametrize("mode", list(fg.Mode))
def test_every_order_goes_to_the_perpetual_never_the_spot_book(trader: User, mode: fg.Mode) -> None:
    bot = start_bot(trader, replace(LONG, mode=mode))
    assert venue(bot).open_orders("BTCUSDT") == []  # spot
    assert len(venue(bot).open_orders("BTCUSDT", kind=LINEAR)) == 10


def test_stopping_a_short_with_a_close_asks_to_buy_it_back_then_does(trader: User) -> None:
    bot = start_bot(trader, replace(LONG, mode=fg.Mode.SHORT))
    held = abs(books(bot).base)
    client = Client()
    client.force_login(trader)
    page = client.get(reverse("bot_detail", args=[bot.pk])).content.decode()
    assert "Close the position" in page
    assert "Sell the base" not in page
    # The buys below close the short: each of them is marked.
    assert page.count('title="Only closes the position">Reduce-only</span>') == 5

    asked = client.post(reverse("bot_stop", args=[bot.pk]), {"sell_base": "on"}).content.decode()
    assert "close its BTC short?" in asked
    assert "closes its position, reduce-only, buying it back" in asked
    assert f"Short {format_amount(held, '0.001')} BTC" in asked
    assert "Stop and keep the position" in asked
    bot.refresh_from_db()
    assert bot.status == BotStatus.RUNNING

    client.post(reverse("bot_stop", args=[bot.pk]), {"sell_base": "on", "confirm": "sell-base"})
    tick(bot, 3)
    assert bot.status == BotStatus.STOPPED
    assert position(bot).is_flat


def test_a_take_profit_by_pnl_closes_the_position_once_the_bot_has_made_it(trader: User) -> None:
    # 1% of a 1,000 USDT margin: 10 USDT of total PnL, fees counted.
    bot = start_bot(trader, replace(LONG, take_profit_percent=D(1)))
    market.set_price("BTCUSDT", D("50200"))
    tick(bot)
    assert bot.status == BotStatus.RUNNING  # up about 6 USDT on the start's long, less its fee
    market.set_price("BTCUSDT", D("50900"))
    tick(bot, 4)
    assert bot.status == BotStatus.STOPPED, bot.status_reason
    assert position(bot).is_flat
    summary = books(bot).summary(D("50900"))
    assert summary.total_pnl >= D(10) - D(3)  # made 10, less the close's slippage-free fee
    messages = list(BotEvent.objects.filter(bot=bot).values_list("message", flat=True))
    assert "Take-profit reached: stopping and closing the position." in messages


def test_a_stop_loss_by_pnl_closes_the_position_once_the_bot_has_lost_it(trader: User) -> None:
    bot = start_bot(trader, replace(LONG, mode=fg.Mode.SHORT, stop_loss_percent=D(2)))
    market.set_price("BTCUSDT", D("50600"))  # the short is down about 6 USDT: still running
    tick(bot)
    assert bot.status == BotStatus.RUNNING
    market.set_price("BTCUSDT", D("50990"))  # the short is down past 20 USDT
    tick(bot, 4)
    assert bot.status == BotStatus.STOPPED, bot.status_reason
    assert position(bot).is_flat
    assert books(bot).summary(D("50990")).total_pnl < -D(20)
