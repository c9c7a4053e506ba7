from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from django.db import connection

from accounts.models import User
from accounts.tests.factories import make_user
from bots import actions
from bots.models import Bot
from bots.tests.asgi import AsgiServer
from bots.tests.factories import grid_config
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper import market
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.service import open_paper_account

D = Decimal


def paper_account_for(owner: User, usdt: str = "5000") -> ExchangeAccount:
    paper = open_paper_account(f"{owner.email} paper", {"USDT": D(usdt)})
    return ExchangeAccount.objects.create(
        owner=owner,
        label="Paper",
        exchange=ExchangeName.PAPER,
        environment=Environment.PAPER,
        paper_account=paper,
    )


@pytest.fixture
def trader(db: None) -> User:
    return make_user(email="gridder@example.com")


@pytest.fixture
def paper_bot(trader: User) -> Bot:
    market.set_price("BTCUSDT", D("54000"))
    account = paper_account_for(trader)
    config = grid_config()
    price = actions.check_bot_config(account, config)
    return actions.do_create_bot(trader, account, "BTC grid", config, price)


def venue(bot: Bot) -> PaperExchange:
    bot.exchange_account.refresh_from_db()
    assert bot.exchange_account.paper_account is not None
    return PaperExchange(bot.exchange_account.paper_account)


@pytest.fixture
def live_server_asgi(transactional_db: None, monkeypatch: pytest.MonkeyPatch) -> Iterator[AsgiServer]:
    """Like pytest-django's `live_server`, but ASGI (uvicorn), so the pages' websockets work."""
    # The server's worker threads outlive the test; with persistent connections they would
    # keep the test database open and its teardown would fail.
    monkeypatch.setitem(connection.settings_dict, "CONN_MAX_AGE", 0)
    server = AsgiServer()
    server.start()
    yield server
    server.stop()
