"""A stop answers within seconds with the venue down: cancels go out at once on a fail-fast
client, outside the tick's backoff; what the venue did not confirm is listed and swept later."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import redis
from django.conf import settings
from django.test import Client

from bots import actions, engine
from bots.models import Bot, BotEvent, BotStatus
from bots.tasks import settle_unconfirmed_cancels, stop_bot_now
from bots.tests.test_faults import KEY, QUOTE_START, SECRET, bybit_bot, simulator, tick_until
from exchanges.registry import exchange_for_account
from exchanges.simulator.server import BybitSimulator
from trading.models import Order, OrderPurpose, OrderStatus

__all__ = ["simulator"]  # the fixture, shared with the fault tests

STOP_WITHIN = 5.0  # seconds


def running_bot(simulator: BybitSimulator) -> Bot:
    bot = bybit_bot(simulator)
    bot = tick_until(bot, lambda b: b.status == BotStatus.RUNNING and not b.orders.filter(status="pending"))
    assert bot.orders.filter(purpose=OrderPurpose.GRID, status=OrderStatus.OPEN).count() == 5
    return bot


def timed_emergency_stop(bot: Bot, *, sell_base: bool = False) -> float:
    """The trader's button and the worker's task, as the priority queue runs it."""
    started = time.monotonic()
    actions.do_emergency_stop(bot, sell_base=sell_base)
    stop_bot_now(bot.pk)
    return time.monotonic() - started


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections and never answers: a venue hanging, not refusing."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        yield int(listener.getsockname()[1])


def test_emergency_stop_with_the_venue_down_is_an_error_within_seconds_then_settles(
    simulator: BybitSimulator,
) -> None:
    bot = running_bot(simulator)
    grid = set(bot.orders.filter(status=OrderStatus.OPEN).values_list("client_order_id", flat=True))
    port = simulator.port
    simulator.stop()  # the venue is gone: its port refuses connections

    elapsed = timed_emergency_stop(bot)

    assert elapsed < STOP_WITHIN, f"the stop took {elapsed:.1f} s"
    bot.refresh_from_db()
    assert bot.status == BotStatus.ERROR
    assert "Could not connect to Bybit (connection refused). 5 orders may still be open on Bybit" in (
        bot.status_reason
    )
    assert bot.restart_at is None, "a stopped bot is never restarted by itself"
    unconfirmed = bot.orders.filter(cancel_unconfirmed_since__isnull=False)
    assert set(unconfirmed.values_list("client_order_id", flat=True)) == grid

    client = Client()
    client.force_login(bot.owner)
    page = client.get(f"/bots/{bot.pk}/").content.decode()
    assert "5 orders may still be open on Bybit" in page
    for client_order_id in grid:
        assert f'data-may-be-open="{client_order_id}"' in page

    # Still down: the sweep changes nothing and says so quickly.
    started = time.monotonic()
    assert settle_unconfirmed_cancels() == 5
    assert time.monotonic() - started < STOP_WITHIN

    # The venue is back on its address: the sweep cancels each order by its client order id.
    with BybitSimulator(port=port, allow_faults=True) as back:
        back.add_key(KEY, SECRET, balances={"USDT": QUOTE_START})
        assert settle_unconfirmed_cancels() == 0
        assert exchange_for_account(bot.exchange_account).open_orders("BTCUSDT") == []

    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPED
    assert bot.status_reason == ""
    orders = Order.objects.filter(client_order_id__in=grid)
    assert set(orders.values_list("status", flat=True)) == {OrderStatus.CANCELLED}
    assert not orders.filter(cancel_unconfirmed_since__isnull=False).exists()
    assert BotEvent.objects.filter(bot=bot, message="Stopped: Bybit confirmed every cancel.").exists()
    page = client.get(f"/bots/{bot.pk}/").content.decode()
    assert "may still be open" not in page


def test_emergency_stop_with_the_venue_hanging_gives_up_after_one_short_timeout(
    simulator: BybitSimulator, silent_port: int
) -> None:
    bot = running_bot(simulator)
    bot.exchange_account.base_url = f"http://127.0.0.1:{silent_port}"
    bot.exchange_account.save(update_fields=["base_url"])

    elapsed = timed_emergency_stop(bot, sell_base=True)

    assert elapsed < STOP_WITHIN, f"the stop took {elapsed:.1f} s"
    bot.refresh_from_db()
    assert bot.status == BotStatus.ERROR
    assert bot.status_reason.endswith("The base was not sold: sell it once the stop is through.")
    assert (
        "Bybit did not answer within 2 seconds (timed out). 5 orders may still be open" in bot.status_reason
    )
    assert bot.orders.filter(cancel_unconfirmed_since__isnull=False).count() == 5


def test_emergency_stop_with_the_venue_up_is_stopped_at_once(simulator: BybitSimulator) -> None:
    bot = running_bot(simulator)

    elapsed = timed_emergency_stop(bot)

    assert elapsed < STOP_WITHIN
    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPED
    assert exchange_for_account(bot.exchange_account).open_orders("BTCUSDT") == []
    assert not bot.orders.filter(cancel_unconfirmed_since__isnull=False).exists()


@pytest.mark.django_db
def test_a_stop_goes_to_the_priority_queue_as_its_own_task(
    paper_bot: Bot, django_capture_on_commit_callbacks: object
) -> None:
    broker = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    priority = settings.REDIS_KEY_PREFIX + settings.CELERY_PRIORITY_QUEUE
    broker.delete(priority)
    bot = actions.do_start_bot(paper_bot)
    Bot.objects.filter(pk=bot.pk).update(status=BotStatus.RUNNING)
    try:
        with django_capture_on_commit_callbacks(execute=True):  # type: ignore[operator]
            actions.do_emergency_stop(bot)
        messages = [str(message) for message in broker.lrange(priority, 0, -1)]
        assert any("bots.tasks.stop_bot_now" in message for message in messages)
    finally:
        broker.delete(priority)


def test_a_stopping_bot_the_venue_never_answers_is_not_restarted_by_itself(simulator: BybitSimulator) -> None:
    """Cancels answered, then the venue goes: the stop's ticks give up in error, and stay there."""
    bot = running_bot(simulator)
    actions.do_stop_bot(bot)
    simulator.faults.configure(server_error_requests=10_000)

    bot = tick_until(bot, lambda b: b.status == BotStatus.ERROR, ticks=engine.MAX_FAILURES + 1)

    assert bot.status == BotStatus.ERROR
    assert bot.restart_at is None
