"""Two requests racing for a plan's last slot: exactly one gets it."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from accounts.tests.factories import make_user
from billing.entitlements import PlanLimitReached
from billing.tests.helpers import end_trial
from billing.tests.test_limits import bots
from bots import actions
from bots.models import Bot, BotStatus
from bots.tests.conftest import paper_account_for
from exchanges.paper import market

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_starts_racing_for_the_last_slot_start_one_bot() -> None:
    market.set_price("BTCUSDT", Decimal("54000"))
    user = make_user()
    end_trial(user)
    account = paper_account_for(user)
    bots(account, 2)
    racers = bots(account, 2, BotStatus.STOPPED)
    barrier = threading.Barrier(len(racers))
    outcomes: list[str] = []

    def start(bot_id: int) -> None:
        try:
            bot = Bot.objects.select_related("owner", "exchange_account").get(pk=bot_id)
            barrier.wait()
            actions.do_start_bot(bot)
            outcomes.append("started")
        except PlanLimitReached:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=start, args=(bot.pk,)) for bot in racers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "started"]
    assert Bot.objects.filter(pk__in=[b.pk for b in racers], status=BotStatus.STARTING).count() == 1
