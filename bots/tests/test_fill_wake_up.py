"""A paper fill wakes the bot whose order filled at once, not every bot on the paper account."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from accounts.models import User
from bots import actions, engine, tasks
from bots.models import Bot
from bots.signals import WAKE_GRACE
from bots.strategies.grid import GridConfig
from bots.tests.conftest import paper_account_for
from bots.tests.factories import grid_config
from bots.tests.test_engine import started
from exchanges.models import ExchangeAccount
from exchanges.paper import market

D = Decimal


def test_only_the_bot_whose_order_filled_is_woken(
    trader: User, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    market.set_price("BTCUSDT", D("54000"))
    account = paper_account_for(trader, usdt="10000")
    # Buys at 53,000 and below; and at 50,000 and below: a drop to 52,900 fills only the first.
    near = _running(trader, account, "near", grid_config())
    wide = grid_config(lower_price=D(40000), upper_price=D(70000), grid_count=6)
    far = _running(trader, account, "far", wide)
    far_due = far.next_tick_at
    woken: list[int] = []
    monkeypatch.setattr(tasks, "wake_now", lambda bots: woken.extend(bots))

    with django_capture_on_commit_callbacks(execute=True):
        fills = market.set_price("BTCUSDT", D("52900"))

    assert fills, "the 53,000 buy filled"
    assert woken == [near.pk]
    far.refresh_from_db()
    assert far.next_tick_at == far_due, "left to its own interval"


def _running(trader: User, account: ExchangeAccount, name: str, config: GridConfig) -> Bot:
    bot = actions.do_create_bot(trader, account, name, config, actions.check_bot_config(account, config))
    return started(bot)


def test_a_woken_bot_is_not_dispatched_while_its_wake_up_waits_and_the_wake_up_reschedules_it(
    trader: User, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    market.set_price("BTCUSDT", D("54000"))
    bot = _running(trader, paper_account_for(trader, usdt="10000"), "near", grid_config())
    Bot.objects.filter(pk=bot.pk).update(next_tick_at=timezone.now() - timedelta(seconds=1))
    woken: list[dict[int, int]] = []
    monkeypatch.setattr(tasks, "wake_now", woken.append)
    with django_capture_on_commit_callbacks(execute=True):
        market.set_price("BTCUSDT", D("52900"))  # fills its 53,000 buy
    assert woken == [{bot.pk: bot.tick_interval}]

    dispatched: list[Any] = []
    monkeypatch.setattr(tasks.tick_bots, "apply_async", lambda args, **options: dispatched.append(args))
    tasks.dispatch_due_bots()
    assert dispatched == [], "the bot was due, but its wake-up is its tick"

    before = timezone.now()
    tasks.tick_woken_bots(list(woken[0].items()))
    bot.refresh_from_db()
    assert bot.orders.filter(side="sell", status="open").count() == 3, "the counter-order is out"
    assert bot.next_tick_at is not None
    assert bot.next_tick_at >= before + timedelta(seconds=bot.tick_interval)


def test_a_wake_up_that_never_runs_leaves_the_bot_to_the_dispatcher(
    trader: User, monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    market.set_price("BTCUSDT", D("54000"))
    bot = _running(trader, paper_account_for(trader, usdt="10000"), "near", grid_config())
    monkeypatch.setattr(tasks, "wake_now", lambda bots: None)  # the message is lost
    with django_capture_on_commit_callbacks(execute=True):
        market.set_price("BTCUSDT", D("52900"))

    bot.refresh_from_db()
    assert bot.next_tick_at is not None
    assert bot.next_tick_at <= timezone.now() + WAKE_GRACE, "due again within the grace"


def test_a_wake_up_that_finds_a_tick_in_flight_tries_again_shortly(
    trader: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    market.set_price("BTCUSDT", D("54000"))
    bot = _running(trader, paper_account_for(trader, usdt="10000"), "near", grid_config())
    retries: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(
        tasks.tick_bot, "apply_async", lambda args, kwargs, **options: retries.append((args, options))
    )
    token = engine.claim(bot.pk)  # a routine tick in flight, which may have read the venue already
    assert token is not None
    due_before = Bot.objects.get(pk=bot.pk).next_tick_at

    tasks.tick_bot(bot.pk, interval=bot.tick_interval)

    assert retries == [((bot.pk, 1), {"countdown": tasks.BUSY_RETRY_SECONDS, "queue": "priority"})]
    assert Bot.objects.get(pk=bot.pk).next_tick_at == due_before, "left to the retry, not the dispatcher"
    engine.release(bot.pk, token)
