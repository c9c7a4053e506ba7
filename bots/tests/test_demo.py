from __future__ import annotations

import pytest

from bots import engine
from bots.models import Bot, BotStatus
from config.demo import DEMO_EMAIL, seed_demo


@pytest.mark.django_db
def test_the_demo_trader_gets_one_running_grid_bot_on_the_replayed_market() -> None:
    seed_demo()
    seed_demo()
    [bot] = Bot.objects.filter(owner__email=DEMO_EMAIL)
    assert bot.status == BotStatus.STARTING
    assert bot.exchange_account.exchange == "paper"

    for _ in range(3):
        engine.run_tick(bot.pk)
    bot.refresh_from_db()
    assert bot.status == BotStatus.RUNNING, bot.status_reason
    assert bot.orders.filter(purpose="grid", status="open").count() == 20
