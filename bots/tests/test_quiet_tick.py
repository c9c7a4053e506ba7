"""The quiet tick: a running paper bot with nothing to book, settle or send skips the reconcile.

The claim decides it in its own statement (engine.claim_and_load); these tests show the
skip never hides work: a fill, a pending order, a stop, an exit rule or a due sweep.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from bots import actions, engine
from bots.models import Bot, BotStatus
from bots.tests.conftest import venue
from bots.tests.factories import grid_config
from bots.tests.test_engine import started, tick
from exchanges.base import Side
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper import market
from exchanges.paper.models import PaperMarket
from trading.models import EquitySnapshot, Order, OrderStatus
from trading.models import Fill as FillRow

D = Decimal
INTERVAL = timedelta(seconds=5)
# The lease claim (which also loads the bot and asks whether anything waits) and its release.
QUIET_TICK_STATEMENTS = 2


def steady(bot: Bot) -> Bot:
    """A started bot past its first snapshot and sweep: its next ticks are quiet."""
    bot = started(bot)
    bot = tick(bot)
    assert bot.last_snapshot_at is not None
    assert bot.orders_checked_at is not None
    assert not bot.orders.filter(status=OrderStatus.PENDING).exists()
    return bot


def is_quiet(bot: Bot) -> bool:
    claimed = engine.claim_and_load(bot.pk)
    assert claimed is not None
    engine.release(bot.pk, claimed.token)
    return claimed.quiet


def test_a_quiet_tick_is_two_statements_and_changes_nothing(paper_bot: Bot) -> None:
    bot = steady(paper_bot)
    orders_before = list(bot.orders.values_list("id", "status", "sent_at"))
    before = timezone.now()

    with CaptureQueriesContext(connection) as queries:
        assert engine.run_tick(bot.pk, reschedule_in=INTERVAL)

    assert len(queries) <= QUIET_TICK_STATEMENTS, [q["sql"][:120] for q in queries.captured_queries]
    bot.refresh_from_db()
    assert list(bot.orders.values_list("id", "status", "sent_at")) == orders_before
    assert (bot.lease_until, bot.lease_token) == (None, None), "the lease is released"
    assert bot.next_tick_at is not None
    assert bot.next_tick_at >= before + INTERVAL, "the claim scheduled the next tick"


def test_the_claim_loads_the_bot_and_its_accounts_as_the_orm_does(paper_bot: Bot) -> None:
    bot = steady(paper_bot)
    claimed = engine.claim_and_load(bot.pk)
    assert claimed is not None
    engine.release(bot.pk, claimed.token)
    orm = Bot.objects.select_related("exchange_account__paper_account").get(pk=bot.pk)

    def fields(obj: object) -> dict[str, object]:
        model = type(obj)
        return {f.attname: getattr(obj, f.attname) for f in model._meta.concrete_fields}  # type: ignore[attr-defined]

    skip = {"lease_until", "lease_token"}  # the claim took the lease; the ORM read after release
    assert {k: v for k, v in fields(claimed.bot).items() if k not in skip} == {
        k: v for k, v in fields(orm).items() if k not in skip
    }
    assert fields(claimed.bot.exchange_account) == fields(orm.exchange_account)
    assert claimed.bot.grid_config == orm.grid_config, "JSON columns decoded, not left as text"
    assert claimed.bot.exchange_account.paper_account is not None
    assert orm.exchange_account.paper_account is not None
    assert fields(claimed.bot.exchange_account.paper_account) == fields(orm.exchange_account.paper_account)


def test_a_fill_that_lands_while_quiet_is_booked_and_countered_on_the_next_tick(paper_bot: Bot) -> None:
    bot = steady(paper_bot)
    assert is_quiet(bot)
    buy = bot.orders.get(purpose="grid", price=D(53000))

    market.set_price("BTCUSDT", D("52900"))  # fills the buy; no wake-up runs in this test

    assert not FillRow.objects.filter(order=buy).exists()
    assert not is_quiet(bot), "an unbooked fill of this bot's order is work"
    bot = tick(bot)
    assert FillRow.objects.filter(order=buy).count() == 1
    sells = [o for o in venue(bot).open_orders("BTCUSDT") if o.side is Side.SELL and o.price == D(57000)]
    assert len(sells) == 1, "the counter-order went out"
    assert is_quiet(bot), "booked and sent: quiet again"


def test_fills_already_booked_inside_the_overlap_keep_the_bot_quiet(paper_bot: Bot) -> None:
    """Fills inside the reconcile's overlap that are booked already keep the bot quiet."""
    bot = steady(paper_bot)
    market.set_price("BTCUSDT", D("52900"))
    bot = tick(bot)
    bot = tick(bot)
    assert bot.fills.count() >= 2, "start trade and the grid buy, both inside the overlap window"
    assert is_quiet(bot)


@pytest.mark.parametrize("sent", [False, True], ids=["unsent", "sent-unknown-outcome"])
def test_a_pending_order_is_never_skipped(paper_bot: Bot, sent: bool) -> None:
    bot = steady(paper_bot)
    ghost = Order.objects.create(
        bot=bot,
        client_order_id=f"gw{bot.pk}r{bot.run}-ghost",
        symbol="BTCUSDT",
        side="buy",
        order_type="limit",
        price=D("40000"),
        quantity=D("0.001"),
        status=OrderStatus.PENDING,
        purpose="grid",
        sent_at=timezone.now() if sent else None,
    )

    assert not is_quiet(bot)
    tick(bot)
    ghost.refresh_from_db()
    if sent:
        assert ghost.status == OrderStatus.PENDING, "still waiting to be found or declared lost"
        assert ghost.sent_at is not None
    else:
        assert ghost.sent_at is not None, "sent on the next tick"
        assert ghost.status == OrderStatus.OPEN
        assert any(o.client_order_id == ghost.client_order_id for o in venue(bot).open_orders("BTCUSDT"))


def test_a_stop_during_a_quiet_tick_still_stops(paper_bot: Bot) -> None:
    bot = steady(paper_bot)
    claimed = engine.claim_and_load(bot.pk, reschedule_in=INTERVAL)
    assert claimed is not None
    assert claimed.quiet
    actions.do_emergency_stop(bot)  # the trader stops while the quiet tick is in flight
    tick = engine.StagedTick(claimed)
    tick.book()
    tick.finish()  # and releases the lease

    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPING, "the quiet tick did not overwrite the stop"
    for _ in range(4):
        engine.run_tick(bot.pk)
    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPED
    assert venue(bot).open_orders() == []


def test_a_quiet_tick_still_checks_exit_rules(paper_bot: Bot) -> None:
    account = paper_bot.exchange_account
    bot = actions.do_create_bot(
        paper_bot.owner, account, "With a stop", grid_config(stop_loss_price=D("44000")), D("54000")
    )
    bot = steady(bot)
    # The price moves without matching (as between two matching passes): no fill, still quiet.
    PaperMarket.objects.filter(symbol="BTCUSDT").update(last_price=D("43000"))
    assert is_quiet(bot)

    bot = tick(bot)
    assert bot.status == BotStatus.STOPPING, "the stop-loss fired on a quiet tick"


def test_a_quiet_tick_still_snapshots_and_sweeps_when_due(paper_bot: Bot) -> None:
    bot = steady(paper_bot)
    order = bot.orders.filter(purpose="grid", status=OrderStatus.OPEN).first()
    assert order is not None
    venue(bot).cancel_order("BTCUSDT", client_order_id=order.client_order_id)  # outside Gridwise
    assert is_quiet(bot), "a cancel is no fill: only the sweep finds it"
    tick(bot)
    order.refresh_from_db()
    assert order.status == OrderStatus.OPEN, "the sweep is not due yet"

    long_ago = timezone.now() - timedelta(minutes=2)
    Bot.objects.filter(pk=bot.pk).update(orders_checked_at=long_ago, last_snapshot_at=long_ago)
    snapshots = EquitySnapshot.objects.filter(bot=bot).count()
    tick(bot)
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert EquitySnapshot.objects.filter(bot=bot).count() == snapshots + 1


def test_a_bybit_bot_is_never_quiet(paper_bot: Bot) -> None:
    account = ExchangeAccount(
        owner=paper_bot.owner,
        label="Bybit",
        exchange=ExchangeName.BYBIT,
        environment=Environment.TESTNET,
    )
    account.set_credentials("quiet-test-key-0001", "quiet-test-secret-0123456789abcdef")
    account.save()
    bot = Bot.objects.create(
        owner=paper_bot.owner,
        exchange_account=account,
        name="On Bybit",
        symbol="BTCUSDT",
        config=paper_bot.config,
        status=BotStatus.RUNNING,
        run=1,
    )

    claimed = engine.claim_and_load(bot.pk)
    assert claimed is not None
    assert not claimed.quiet, "only the venue can say what changed there: it is polled every tick"
    assert claimed.bot.exchange_account.paper_account is None
    assert claimed.bot.exchange_account.api_key_encrypted == account.api_key_encrypted


def test_a_superseded_dispatch_message_does_not_tick(paper_bot: Bot) -> None:
    """A queue that fell behind holds several messages for one bot: only the current one ticks."""
    from bots import tasks

    bot = steady(paper_bot)
    sent: list[tuple[Any, ...]] = []
    original = tasks.tick_bots.apply_async
    tasks.tick_bots.apply_async = lambda args, **options: sent.append(args)  # type: ignore[method-assign,assignment]
    try:
        for _ in range(2):  # the first message waits so long that the dispatcher sends another
            Bot.objects.filter(pk=bot.pk).update(next_tick_at=timezone.now() - timedelta(seconds=1))
            tasks.dispatch_due_bots()
    finally:
        tasks.tick_bots.apply_async = original  # type: ignore[method-assign]
    stale, current = sent
    assert stale[1] != current[1], "each dispatch marks its messages"

    tasks.tick_bots(*stale)
    bot.refresh_from_db()
    dispatched_until = bot.next_tick_at
    assert dispatched_until is not None
    assert dispatched_until.isoformat() == current[1], "the stale one did not tick"

    tasks.tick_bots(*current)
    bot.refresh_from_db()
    assert bot.next_tick_at is not None
    assert bot.next_tick_at < dispatched_until, "the current one ran and set the next tick"
