"""Stop all reaches a bot that is still starting: its start task, run afterwards, places nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from bots import actions
from bots.models import Bot, BotStatus
from bots.tasks import stop_bot_now, tick_bot
from exchanges.base import Balance
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.models import PaperOrder
from trading.models import OrderStatus

pytestmark = pytest.mark.django_db


def _venue_orders(bot: Bot) -> int:
    return PaperOrder.objects.filter(account=bot.exchange_account.paper_account).count()


@pytest.mark.parametrize("stop_task_first", [False, True], ids=["start-task-first", "stop-task-first"])
def test_a_bot_stopped_before_its_start_task_runs_never_places_its_grid(
    paper_bot: Bot, stop_task_first: bool
) -> None:
    bot = actions.do_start_bot(paper_bot)  # its start task is queued, not yet run
    assert bot.status == BotStatus.STARTING
    client = Client()
    client.force_login(bot.owner)

    answer = client.post("/bots/dashboard/stop-all/")

    assert answer.status_code == 302
    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPING
    if stop_task_first:
        stop_bot_now(bot.pk)
    tick_bot(bot.pk)  # the start task, late
    stop_bot_now(bot.pk)
    tick_bot(bot.pk)  # and any tick after it

    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPED
    assert bot.state is None, "no grid was laid out"
    assert not bot.orders.exists()
    assert _venue_orders(bot) == 0


def test_stop_all_during_the_start_task_sends_nothing_after_it(
    paper_bot: Bot, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Stop all lands while the start task checks the funds: the start trade it then plans is never sent."""
    bot = actions.do_start_bot(paper_bot)
    balances = PaperExchange.balances

    def stop_all_meanwhile(exchange: PaperExchange) -> dict[str, Balance]:
        monkeypatch.setattr(PaperExchange, "balances", balances)
        assert actions.do_stop_all(bot.owner)
        return balances(exchange)

    monkeypatch.setattr(PaperExchange, "balances", stop_all_meanwhile)

    tick_bot(bot.pk)  # the start task, in flight when Stop all runs
    stop_bot_now(bot.pk)

    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPED
    assert bot.state is None
    assert _venue_orders(bot) == 0
    start = bot.orders.get()  # the start trade, planned after the stop and never sent
    assert (start.purpose, start.status, start.sent_at) == ("start", OrderStatus.CANCELLED, None)
