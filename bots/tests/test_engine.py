"""The engine on the real paper exchange and PostgreSQL, tick by tick."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.utils import timezone

from bots import actions, engine
from bots.models import Bot, BotEvent, BotEventKind, BotStatus
from bots.tests.conftest import grid_config, paper_account_for, venue
from exchanges.base import OrderRequest, OrderType, Side
from exchanges.paper import market
from exchanges.paper.models import PaperFill, PaperOrder
from trading import numbers
from trading.models import EquitySnapshot, Order, OrderStatus

D = Decimal
FEE = D("0.001")


def tick(bot: Bot) -> Bot:
    assert engine.run_tick(bot.pk)
    bot.refresh_from_db()
    return bot


def settle(bot: Bot, ticks: int = 6) -> Bot:
    """Tick until the bot stops being active (or give up after `ticks`)."""
    for _ in range(ticks):
        if not engine.run_tick(bot.pk):
            break
    bot.refresh_from_db()
    return bot


def started(bot: Bot) -> Bot:
    actions.do_start_bot(bot)
    tick(bot)  # sends the start trade
    return tick(bot)  # books it and lays out the grid


def open_prices(bot: Bot) -> dict[str, list[Decimal]]:
    orders = venue(bot).open_orders("BTCUSDT")
    return {
        "buy": sorted(o.price for o in orders if o.side is Side.BUY and o.price),
        "sell": sorted(o.price for o in orders if o.side is Side.SELL and o.price),
    }


def test_start_buys_the_base_and_lays_out_the_published_grid(paper_bot: Bot) -> None:
    bot = started(paper_bot)

    assert bot.status == BotStatus.RUNNING
    assert open_prices(bot) == {"buy": [D(45000), D(49000), D(53000)], "sell": [D(61000), D(65000)]}
    start = bot.orders.get(purpose="start")
    assert start.status == OrderStatus.FILLED
    ledger = bot.books
    assert ledger is not None
    q = bot.grid_state.quantity_per_order if bot.grid_state else D(0)
    assert ledger.base_in("3") == ledger.base_in("4") == q
    tick(bot)
    assert EquitySnapshot.objects.filter(bot=bot).exists(), "running ticks record equity"


def test_a_round_trip_books_the_published_profit_and_replaces_the_buy(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    buy = bot.orders.get(purpose="grid", price=D(53000))
    q = buy.quantity

    market.set_price("BTCUSDT", D("52900"))
    bot = tick(bot)
    sell = bot.orders.get(purpose="grid", side="sell", price=D(57000))
    net = (q * (1 - FEE)).quantize(D("0.000001"), rounding="ROUND_DOWN")
    assert (sell.quantity, sell.status) == (net, OrderStatus.OPEN)

    market.set_price("BTCUSDT", D("57100"))
    bot = tick(bot)
    ledger = bot.books
    assert ledger is not None
    assert ledger.round_trips == 1
    assert ledger.realized == net * D("57000") * (1 - FEE) - q * D("53000")
    assert bot.orders.filter(purpose="grid", side="buy", price=D(53000), status=OrderStatus.OPEN).count() == 1
    summary = ledger.summary(D("57100"))
    assert (
        summary.grid_profit + summary.unrealized_pnl - summary.fees_not_netted
        == summary.equity - summary.investment
    )


def test_a_counter_order_the_price_has_crossed_waits_instead_of_trading_at_market(paper_bot: Bot) -> None:
    """The 53,000 buy fills and the price runs past 57,000 before the bot ticks: its counter-sell
    at 57,000 would trade at market. Sent post-only, the venue refuses it; the interval keeps it,
    unsent, until the price is back below 57,000; then it rests and fills as a maker."""
    bot = started(paper_bot)
    q = bot.orders.get(purpose="grid", price=D(53000)).quantity
    market.set_price("BTCUSDT", D("52900"))  # the 53,000 buy fills
    market.set_price("BTCUSDT", D("57100"))  # before the bot ticks, the price runs past 57,000

    bot = tick(bot)
    took = PaperFill.objects.filter(
        order__client_order_id__startswith=f"gw{bot.pk}r{bot.run}-", is_maker=False
    )
    assert not took.exclude(order__order_type="market").exists(), "the counter-sell traded at market"
    refused = bot.orders.get(purpose="grid", side="sell", price=D(57000), attempt=0)
    assert (refused.status, refused.reject_reason) == (OrderStatus.REJECTED, engine.POST_ONLY_REASON)
    waiting = bot.orders.get(purpose="grid", side="sell", price=D(57000), attempt=1)
    assert (waiting.status, waiting.sent_at) == (OrderStatus.PENDING, None)
    assert waiting.client_order_id == f"{refused.client_order_id}-a1"
    assert (waiting.interval, waiting.cycle, waiting.quantity) == (
        refused.interval,
        refused.cycle,
        refused.quantity,
    )
    assert not PaperFill.objects.filter(order__client_order_id__startswith=refused.client_order_id).exists()
    warning = BotEvent.objects.get(bot=bot, kind=BotEventKind.WARNING)
    assert warning.message == (
        f"Sell {numbers.plain(refused.quantity)} @ 57,000 would have traded at market: the price had "
        "crossed it by the time it was sent. It waits for the price to be back below 57,000."
    )

    bot = tick(bot)  # still across: it waits, and the venue is not asked again
    assert bot.orders.get(pk=waiting.pk).sent_at is None
    assert not PaperOrder.objects.filter(client_order_id=waiting.client_order_id).exists()

    market.set_price("BTCUSDT", D("56500"))
    bot = tick(bot)
    assert bot.orders.get(pk=waiting.pk).status == OrderStatus.OPEN, "back below its level: it rests"

    market.set_price("BTCUSDT", D("57200"))
    bot = tick(bot)
    assert bot.orders.get(pk=waiting.pk).status == OrderStatus.FILLED
    assert list(bot.fills.filter(order__purpose="grid").values_list("is_maker", flat=True)) == [True, True]
    ledger = bot.books
    assert ledger is not None
    assert ledger.round_trips == 1
    net = (q * (1 - FEE)).quantize(D("0.000001"), rounding="ROUND_DOWN")
    assert ledger.realized == net * D("57000") * (1 - FEE) - q * D("53000")


def test_fills_are_recorded_once_however_often_we_reconcile(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    market.set_price("BTCUSDT", D("48000"))
    bot = tick(bot)
    fills_after_one = bot.fills.count()
    Bot.objects.filter(pk=bot.pk).update(fills_cursor=None)  # re-read every fill from the start
    bot = tick(bot)
    assert bot.fills.count() == fills_after_one
    assert bot.fills.values("trade_id").distinct().count() == fills_after_one


def test_stop_cancels_every_order_and_can_sell_the_base(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    actions.do_stop_bot(bot, sell_base=True)
    bot = settle(bot)  # cancels, sends the exit trade, books its fill

    assert bot.status == BotStatus.STOPPED
    assert venue(bot).open_orders() == []
    assert not bot.orders.filter(status__in=["pending", "open", "partially_filled"]).exists()
    assert venue(bot).balances()["BTC"].total < D("0.000002"), "only dust below the lot step is left"


def test_emergency_stop_during_a_tick_sends_nothing_more(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    market.set_price("BTCUSDT", D("52900"))
    token = engine.claim(bot.pk)  # a tick is in flight...
    assert token is not None
    engine._reconcile(bot, venue(bot))  # ...it booked a fill and committed the counter-order...
    pending = bot.orders.get(status=OrderStatus.PENDING)
    actions.do_emergency_stop(bot)  # ...when the trader hits emergency stop
    engine._send_pending(bot, venue(bot))  # the in-flight tick goes on to send
    engine.release(bot.pk, token)

    pending.refresh_from_db()
    assert pending.status == OrderStatus.CANCELLED
    assert pending.sent_at is None
    bot = settle(bot)
    assert bot.status == BotStatus.STOPPED
    assert venue(bot).open_orders() == []


def test_two_workers_one_bot_only_one_ticks(paper_bot: Bot) -> None:
    actions.do_start_bot(paper_bot)
    first = engine.claim(paper_bot.pk)
    assert first is not None
    assert engine.claim(paper_bot.pk) is None
    assert engine.run_tick(paper_bot.pk) is False
    engine.release(paper_bot.pk, first)
    assert engine.run_tick(paper_bot.pk) is True


def test_an_order_committed_but_never_sent_is_sent_exactly_once(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    market.set_price("BTCUSDT", D("52900"))
    token = engine.claim(bot.pk)
    assert token
    engine._reconcile(bot, venue(bot))  # the worker dies here: pending row committed, nothing sent
    engine.release(bot.pk, token)
    Bot.objects.filter(pk=bot.pk).update(lease_until=None)

    bot = tick(bot)
    bot = tick(bot)
    sells = [o for o in venue(bot).open_orders("BTCUSDT") if o.price == D(57000)]
    assert len(sells) == 1


def test_a_sent_order_the_exchange_never_saw_is_lost_then_replaced(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    ghost = Order.objects.create(
        bot=bot, client_order_id=f"gw{bot.pk}r{bot.run}-9-9b", symbol="BTCUSDT", side="buy",
        order_type="limit", price=D("50000"), quantity=D("0.001"), interval=1, cycle=9,
        status=OrderStatus.PENDING, sent_at=timezone.now() - timedelta(seconds=5),
    )  # fmt: skip
    bot = tick(bot)
    ghost.refresh_from_db()
    assert ghost.status == OrderStatus.PENDING, "too soon to call it lost"

    Order.objects.filter(pk=ghost.pk).update(sent_at=timezone.now() - timedelta(minutes=5))
    bot = tick(bot)
    ghost.refresh_from_db()
    assert ghost.status == OrderStatus.LOST
    retry = bot.orders.get(client_order_id=f"gw{bot.pk}r{bot.run}-1-9b-a1")
    assert retry.status == OrderStatus.OPEN
    assert BotEvent.objects.filter(bot=bot, kind=BotEventKind.ORDER_LOST).exists()


def test_not_enough_funds_puts_the_bot_in_error_with_a_reason(trader) -> None:
    market.set_price("BTCUSDT", D("54000"))
    account = paper_account_for(trader, usdt="100")
    bot = actions.do_create_bot(trader, account, "Too big", grid_config(), D("54000"))
    actions.do_start_bot(bot)
    bot = tick(bot)
    assert bot.status == BotStatus.ERROR
    assert "needs" in bot.status_reason
    assert "USDT" in bot.status_reason
    assert bot.restart_at is None, "a funding problem waits for the trader"


def test_take_profit_stops_and_sells(paper_bot: Bot) -> None:
    Bot.objects.filter(pk=paper_bot.pk).update(
        config={**paper_bot.config, "take_profit_price": "66000", "take_profit_action": "sell_base"}
    )
    bot = started(paper_bot)
    market.set_price("BTCUSDT", D("66500"))
    bot = tick(bot)
    assert bot.status == BotStatus.STOPPING
    assert bot.sell_base_on_stop
    assert BotEvent.objects.filter(bot=bot, kind=BotEventKind.EXIT).exists()


def test_manual_trades_on_the_same_account_are_not_the_bots(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    venue(bot).place_order(
        OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, D("0.001"), "my-own-order", D("52000"))
    )
    market.set_price("BTCUSDT", D("51900"))
    bot = tick(bot)
    assert not bot.orders.filter(client_order_id="my-own-order").exists()
    assert not bot.fills.filter(order__client_order_id="my-own-order").exists()


def test_a_stop_during_the_start_trade_is_not_overwritten(paper_bot: Bot) -> None:
    actions.do_start_bot(paper_bot)
    bot = tick(paper_bot)  # the start trade went out
    engine._reconcile(bot, venue(bot))  # a tick books its fill, having read the bot as starting...
    in_flight = Bot.objects.get(pk=bot.pk)
    actions.do_stop_bot(bot)  # ...when the trader stops it...
    engine._lay_out_grid(in_flight, venue(bot))  # ...and the tick goes on to lay out the grid
    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPING
    assert not bot.orders.filter(purpose="grid").exists()
    bot = settle(bot)
    assert bot.status == BotStatus.STOPPED
    assert not bot.orders.filter(purpose="grid").exists()
    assert venue(bot).open_orders() == []


def test_a_rejected_exit_is_not_retried_forever(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    Order.objects.create(
        bot=bot, client_order_id=f"gw{bot.pk}r{bot.run}-exit", symbol="BTCUSDT", side="sell",
        order_type="market", quantity=D("0.000001"), purpose="exit", status=OrderStatus.REJECTED,
    )  # fmt: skip
    actions.do_stop_bot(bot, sell_base=True)
    bot = settle(bot)
    assert bot.status == BotStatus.STOPPED
    assert bot.orders.filter(purpose="exit").count() == 1


def test_a_quiet_tick_reads_less_but_the_next_fill_is_still_booked_and_countered(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    bot = tick(bot)  # quiet: nothing changed, the cursor's own fill is not booked again
    fills_before = bot.fills.count()
    market.set_price("BTCUSDT", D("52900"))
    bot = tick(bot)
    assert bot.fills.count() == fills_before + 1
    counter = bot.orders.get(purpose="grid", side="sell", price=D(57000))
    assert counter.status == OrderStatus.OPEN
    assert counter.sent_at is not None


def test_a_dispatched_bot_is_not_dispatched_again_until_its_tick_runs(
    paper_bot: Bot, django_capture_on_commit_callbacks: Any
) -> None:
    from bots import tasks

    started(paper_bot)
    Bot.objects.filter(pk=paper_bot.pk).update(next_tick_at=timezone.now() - timedelta(seconds=1))
    sent: list[tuple[object, ...]] = []
    original = tasks.tick_bots.apply_async
    tasks.tick_bots.apply_async = lambda args, **options: sent.extend(args[0])  # type: ignore[method-assign,assignment]
    try:
        for _ in range(2):  # the second time its tick is still queued: not claimed again
            with django_capture_on_commit_callbacks(execute=True):
                tasks.dispatch_due_bots()
    finally:
        tasks.tick_bots.apply_async = original  # type: ignore[method-assign]
    assert [bot_id for bot_id, _, _ in sent] == [paper_bot.pk]
    assert engine.run_tick(paper_bot.pk, reschedule_in=timedelta(seconds=5))
    paper_bot.refresh_from_db()
    assert paper_bot.next_tick_at is not None
    assert 3 < (paper_bot.next_tick_at - timezone.now()).total_seconds() <= 5


def test_a_fill_published_late_with_an_older_time_is_still_booked(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    market.set_price("BTCUSDT", D("52900"))  # the 53000 buy fills...
    fill = PaperFill.objects.get(order__client_order_id__endswith="-2-0b")
    PaperFill.objects.filter(pk=fill.pk).update(time=timezone.now() - timedelta(minutes=1))
    Bot.objects.filter(pk=bot.pk).update(
        fills_cursor=timezone.now()
    )  # ...but the venue showed a newer fill first
    bot = tick(bot)
    assert bot.fills.filter(trade_id=fill.trade_id).count() == 1
    assert bot.orders.filter(purpose="grid", side="sell", price=D(57000)).exists()


def test_an_order_cancelled_outside_gridwise_is_noticed_at_the_next_sweep(paper_bot: Bot) -> None:
    bot = tick(started(paper_bot))  # running ticks sweep once, then once a minute
    order = bot.orders.get(purpose="grid", price=D(49000))
    venue(bot).cancel_order("BTCUSDT", client_order_id=order.client_order_id)  # e.g. in Bybit's app

    bot = tick(bot)
    order.refresh_from_db()
    assert order.status == OrderStatus.OPEN, "between sweeps, only fills are read"

    Bot.objects.filter(pk=bot.pk).update(orders_checked_at=timezone.now() - timedelta(minutes=2))
    bot = tick(bot)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
