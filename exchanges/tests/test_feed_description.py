"""The pages say which prices a paper market runs on: a replay of real candles, a random walk,
live Bybit, or prices set by hand. A paper account is never said to have a key."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import User
from accounts.tests.factories import make_user
from bots import actions
from bots.tests.conftest import paper_account_for
from bots.tests.factories import grid_config
from exchanges.paper import market
from exchanges.paper.feeds import OPENING_POSITION, describe_feed, feed_for
from exchanges.tests.factories import make_bybit_account

D = Decimal


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_the_replay_names_its_file_its_market_and_its_period(db: None) -> None:
    feed = describe_feed("BTCUSDT")
    assert feed.kind == "replay"
    assert feed.title == "Replay of real candles"
    assert feed.detail == (
        "BTCUSDT 5-minute candles from 2 Jan 2023 to 9 Feb 2023 "
        "(btcusdt-5m-2023-01-02--2023-02-09.csv.gz), looping at the end."
    )


def test_the_replay_says_which_moment_it_is_replaying(db: None) -> None:
    market.advance("BTCUSDT", feed_for("BTCUSDT"))
    detail = describe_feed("BTCUSDT").detail
    assert OPENING_POSITION == 2016  # a week into the series: 2 Jan 16:45 + 7 days
    assert detail.endswith("now replaying 9 Jan 2023 16:45 UTC.")


def test_a_symbol_without_data_is_a_random_walk(db: None) -> None:
    feed = describe_feed("ETHUSDT")
    assert feed.kind == "random_walk"
    assert "no real market data" in feed.detail
    assert "1,600" in feed.detail


def test_without_the_data_file_the_replay_is_said_to_be_a_random_walk(db: None, tmp_path: Path) -> None:
    assert describe_feed("BTCUSDT", data_dir=tmp_path).kind == "random_walk"


def test_live_bybit_and_manual_prices_are_named(db: None, settings) -> None:
    settings.PAPER_FEED = "bybit"
    feed = describe_feed("BTCUSDT")
    assert feed.kind == "bybit"
    assert feed.detail.startswith("BTCUSDT's last price from Bybit mainnet's public ticker")
    assert "the replay of real candles stands in" in feed.detail
    settings.PAPER_FEED = "none"
    assert describe_feed("BTCUSDT").kind == "manual"


@pytest.fixture
def trader(db: None) -> User:
    return make_user(email="feeds@example.com")


@pytest.fixture
def owner(trader: User) -> Client:
    client = Client()
    client.force_login(trader)
    return client


def test_the_paper_account_page_names_its_feeds_and_has_no_key(owner: Client, trader: User) -> None:
    account = paper_account_for(trader)
    page = text(owner.get(f"/exchange-accounts/{account.pk}/").content.decode())
    assert "Paper account · ready" in page
    assert "Key OK" not in page
    assert "Replay of real candles BTCUSDT 5-minute candles" in page
    assert "Random walk Simulated ETHUSDT prices" in page
    listing = text(owner.get("/exchange-accounts/").content.decode())
    assert "Paper account · ready" in listing


def test_a_bybit_account_page_names_no_paper_feed(owner: Client, trader: User) -> None:
    account = make_bybit_account(trader)
    page = owner.get(f"/exchange-accounts/{account.pk}/").content.decode()
    assert 'data-testid="paper-feed"' not in page
    assert "Key OK" in page


def test_the_wizard_and_the_bot_page_name_the_feed(owner: Client, trader: User) -> None:
    market.set_price("BTCUSDT", D("54000"))
    account = paper_account_for(trader)
    wizard = text(owner.get("/bots/new/", {"account": str(account.pk), "symbol": "BTCUSDT"}).content.decode())
    assert "Replay of real candles BTCUSDT 5-minute candles from 2 Jan 2023 to 9 Feb 2023" in wizard
    bot = actions.do_create_bot(trader, account, "Feed", grid_config(), D("54000"))
    page = text(owner.get(f"/bots/{bot.pk}/").content.decode())
    assert "Replay of real candles BTCUSDT 5-minute candles" in page
