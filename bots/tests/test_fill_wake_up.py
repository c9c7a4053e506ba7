"""A paper fill wakes the bot whose order filled at once, not every bot on the paper account."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from accounts.models import User
from bots import actions, tasks
from bots.models import Bot
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
    monkeypatch.setattr(tasks, "tick_now", woken.append)

    with django_capture_on_commit_callbacks(execute=True):
        fills = market.set_price("BTCUSDT", D("52900"))

    assert fills, "the 53,000 buy filled"
    assert woken == [near.pk]
    far.refresh_from_db()
    assert far.next_tick_at == far_due, "left to its own interval"


def _running(trader: User, account: ExchangeAccount, name: str, config: GridConfig) -> Bot:
    bot = actions.do_create_bot(trader, account, name, config, actions.check_bot_config(account, config))
    return started(bot)
