"""The wizard's 30-day replay: the kernel's figures equal exact mode's, and gaps are one quiet line."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from accounts.models import User
from bots.backtest import exact
from bots.backtest.metrics import metrics
from bots.backtests import recent
from bots.backtests.candles import find_source, load
from bots.strategies import grid
from bots.tests.conftest import paper_account_for
from exchanges.models import ExchangeAccount
from exchanges.paper import market
from exchanges.paper.instruments import INSTRUMENTS
from trading.templatetags.money import amount, percent

D = Decimal
HTMX = {"HX-Request": "true"}
BTC = INSTRUMENTS["BTCUSDT"]


@pytest.fixture(autouse=True)
def fresh_series() -> Iterator[None]:
    recent.forget_series()
    yield
    recent.forget_series()


@pytest.fixture
def account(trader: User) -> ExchangeAccount:
    market.set_price("BTCUSDT", D("20000"))
    return paper_account_for(trader)


@pytest.fixture
def client_for(trader: User) -> Client:
    client = Client()
    client.force_login(trader)
    return client


def form_values(account: ExchangeAccount, **overrides: str) -> dict[str, str]:
    values = {
        "account": str(account.pk),
        "symbol": "BTCUSDT",
        "name": "Replayed grid",
        "lower_price": "18000",
        "upper_price": "24000",
        "grid_count": "30",
        "spacing": "arithmetic",
        "direction": "long",
        "investment": "5000",
        "take_profit_action": "sell_base",
        "stop_loss_action": "sell_base",
    }
    values.update(overrides)
    return values


def shown(html: str, testid: str) -> str:
    found = re.search(rf'data-testid="{testid}"[^>]*>([^<]*)<', html)
    assert found, testid
    return found.group(1).strip()


def preview(client: Client, values: dict[str, Any]) -> str:
    response = client.get("/bots/new/preview/", values, headers=HTMX)
    assert response.status_code == 200
    return response.content.decode()


def test_the_figures_equal_an_exact_mode_run_over_the_same_window(
    account: ExchangeAccount, client_for: Client
) -> None:
    html = preview(client_for, form_values(account))

    series = recent.recent_series("BTCUSDT", BTC.tick_size)
    assert series is not None
    window = series.window
    source = find_source("BTCUSDT", window)
    assert source is not None
    candles = load(source.venue, "BTCUSDT", window)
    assert len(candles) == 30 * 24 * 12  # the shipped series has no holes in its last 30 days
    config = grid.GridConfig("BTCUSDT", D("18000"), D("24000"), 30, D("5000"))
    run = exact.run(config, BTC, candles)
    figures = metrics(run)
    grid_fills = sum(1 for fill in run.fills if fill.is_maker)

    assert shown(html, "hindsight-return") == percent(figures.total_return)
    assert shown(html, "hindsight-grid-profit") == f"{amount(figures.grid_profit)} USDT"
    assert shown(html, "hindsight-fills") == f"{grid_fills} / {figures.round_trips}"
    assert shown(html, "hindsight-drawdown") == f"{amount(figures.max_drawdown.fraction * 100, '0.01')}%"
    assert shown(html, "hindsight-buy-and-hold") == percent(figures.buy_and_hold_return)
    assert grid_fills > 20  # the window really trades
    assert figures.round_trips > 5
    window_text = "Over 30 days of replayed candles from 2023-01-10 21:20 to 2023-02-09 21:20 UTC"
    assert f"{window_text} (8,640 5-minute candles)" in html
    assert (window.first, window.last) == (candles[0].open_time, candles[-1].open_time)


def test_the_link_opens_the_backtest_form_prefilled(account: ExchangeAccount, client_for: Client) -> None:
    html = preview(client_for, form_values(account, trigger_price="19000"))
    link = re.search(r'href="([^"]+)" data-testid="hindsight-backtest"', html)
    assert link
    url = link.group(1).replace("&amp;", "&")
    query = {key: values[0] for key, values in parse_qs(urlsplit(url).query).items()}
    assert query == {
        "symbol": "BTCUSDT",
        "interval": "5m",
        "start": "2023-01-10",
        "end": "2023-02-10",
        "lower_price": "18000",
        "upper_price": "24000",
        "grid_count": "30",
        "spacing": "arithmetic",
        "direction": "long",
        "investment": "5000",
        "trigger_price": "19000",
    }
    page = client_for.get(url).content.decode()
    assert 'name="lower_price" value="18000"' in page
    assert 'name="trigger_price" value="19000"' in page


def test_without_candles_one_muted_line_says_so(
    account: ExchangeAccount, client_for: Client, settings: Any, tmp_path: Any
) -> None:
    settings.PRICE_DATA_DIR = str(tmp_path)
    html = preview(client_for, form_values(account))
    assert shown(html, "hindsight-missing") == "No 30-day replay: no 5m candles of BTCUSDT are stored."
    assert 'data-testid="hindsight"' not in html
    assert "Profit per grid" in html  # the static figures still show


def test_a_grid_with_exit_rules_says_it_cannot_be_replayed(
    account: ExchangeAccount, client_for: Client
) -> None:
    html = preview(client_for, form_values(account, stop_loss_price="15000"))
    reason = shown(html, "hindsight-missing")
    assert "run a backtest, which simulates them" in reason
    assert "Profit per grid" in html


def test_the_replay_adds_little_to_a_preview(account: ExchangeAccount, client_for: Client) -> None:
    values = form_values(account)
    preview(client_for, values)  # reads the candles and compiles the loop once
    began = time.perf_counter()
    for _ in range(5):
        recent.hindsight(grid.GridConfig("BTCUSDT", D("18000"), D("24000"), 30, D("5000")), BTC)
    per_preview = (time.perf_counter() - began) / 5
    assert per_preview < 0.05, f"{per_preview * 1000:.1f} ms a preview"
