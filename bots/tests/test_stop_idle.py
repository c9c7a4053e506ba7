"""A stop that needs nothing from the venue does not wait for it: a bot with no order on our
books and no base to sell is stopped at once, the venue down or not. One that must still reach
the venue (the base to sell) asks it on the fail-fast client, so a venue that is down ends the
stop in a clear error within seconds, never behind the tick's retries and backoff."""

from __future__ import annotations

import time
from decimal import Decimal as D

import pytest

from bots import actions, engine
from bots.models import Bot, BotEvent, BotStatus
from bots.tasks import stop_bot_now
from bots.tests.test_faults import bybit_bot, simulator, tick_until
from bots.tests.test_stop_now import STOP_WITHIN, running_bot, silent_port
from exchanges.simulator.server import BybitSimulator
from trading.models import LIVE_STATUSES, OrderPurpose, OrderStatus

__all__ = ["silent_port", "simulator"]  # fixtures shared with the stop and fault tests


def timed_stop(bot: Bot, *, sell_base: bool = False) -> float:
    """The trader's Stop and the worker's task, as the priority queue runs it."""
    started = time.monotonic()
    actions.do_stop_bot(bot, sell_base=sell_base)
    stop_bot_now(bot.pk)
    return time.monotonic() - started


def errored_before_any_order(simulator: BybitSimulator) -> Bot:
    """A bot whose start never got through: the venue failed every tick until the bot gave up."""
    bot = bybit_bot(simulator)
    simulator.faults.configure(server_error_requests=10_000)
    bot = tick_until(bot, lambda b: b.status == BotStatus.ERROR, ticks=engine.MAX_FAILURES + 1)
    assert bot.status == BotStatus.ERROR
    assert not bot.orders.exists()
    return bot


def errored_holding_base(simulator: BybitSimulator) -> Bot:
    """A bot whose stop cancelled its grid, then met a venue gone before the stop's tick ended."""
    bot = running_bot(simulator)
    actions.do_stop_bot(bot)
    assert engine.stop_now(bot.pk), "every cancel answered"
    simulator.faults.configure(server_error_requests=10_000)
    bot = tick_until(bot, lambda b: b.status == BotStatus.ERROR, ticks=engine.MAX_FAILURES + 1)
    assert bot.status == BotStatus.ERROR
    assert not bot.orders.filter(status__in=LIVE_STATUSES).exists()
    books = bot.books
    assert books is not None
    assert books.base > 0
    simulator.faults.configure(server_error_requests=0)
    return bot


@pytest.mark.parametrize("sell_base", [False, True])
def test_an_errored_bot_without_orders_stops_at_once_with_the_venue_down(
    simulator: BybitSimulator, sell_base: bool
) -> None:
    bot = errored_before_any_order(simulator)
    simulator.stop()  # the venue is gone: its port refuses connections

    elapsed = timed_stop(bot, sell_base=sell_base)

    assert elapsed < STOP_WITHIN, f"the stop took {elapsed:.1f} s"
    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPED
    assert bot.status_reason == ""
    assert bot.restart_at is None
    unsold = " and no base to sell" if sell_base else ""
    assert BotEvent.objects.filter(
        bot=bot, message=f"Stopped: no order was open{unsold}, so Bybit was not asked."
    ).exists()


def test_selling_the_base_with_the_venue_refusing_is_a_clear_error_within_seconds(
    simulator: BybitSimulator,
) -> None:
    bot = errored_holding_base(simulator)
    simulator.stop()

    elapsed = timed_stop(bot, sell_base=True)

    assert elapsed < STOP_WITHIN, f"the stop took {elapsed:.1f} s"
    bot.refresh_from_db()
    assert bot.status == BotStatus.ERROR
    assert bot.status_reason == (
        "The stop could not be confirmed: Could not connect to Bybit (connection refused). No order of "
        "the bot needed cancelling. The base was not sold: stop the bot again to sell it once Bybit "
        "answers, or stop it without selling."
    )
    assert bot.restart_at is None, "a stopped bot is never restarted by itself"
    assert not bot.orders.filter(purpose=OrderPurpose.EXIT).exists()


def test_selling_the_base_with_the_venue_hanging_gives_up_after_one_short_timeout(
    simulator: BybitSimulator, silent_port: int
) -> None:
    bot = errored_holding_base(simulator)
    bot.exchange_account.base_url = f"http://127.0.0.1:{silent_port}"
    bot.exchange_account.save(update_fields=["base_url"])

    elapsed = timed_stop(bot, sell_base=True)

    assert elapsed < STOP_WITHIN, f"the stop took {elapsed:.1f} s"
    bot.refresh_from_db()
    assert bot.status == BotStatus.ERROR
    assert "Bybit did not answer within 2 seconds (timed out)." in bot.status_reason
    assert "The base was not sold" in bot.status_reason


def test_selling_the_base_with_the_venue_up_sells_and_stops(simulator: BybitSimulator) -> None:
    bot = errored_holding_base(simulator)

    elapsed = timed_stop(bot, sell_base=True)

    assert elapsed < STOP_WITHIN, f"the stop took {elapsed:.1f} s"
    assert bot.orders.filter(purpose=OrderPurpose.EXIT).exists(), "the sale went out with the stop"
    bot = tick_until(bot, lambda b: b.status == BotStatus.STOPPED)  # the next tick books it
    assert bot.status == BotStatus.STOPPED
    assert bot.orders.filter(purpose=OrderPurpose.EXIT, status=OrderStatus.FILLED).count() == 1
    books = bot.books
    assert books is not None
    assert books.base < D("0.000001"), "all of it sold but the dust under the lot step"
