"""The backtest page's form offers a futures grid: its fields by link (and htmx), a posted one
queues the same backtest the API would, its page shows the Futures block, and "Run again"
brings its settings back; a bad leverage is refused beside its field."""

from __future__ import annotations

from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl

import pytest
from django.test import Client

from bots.backtests import tasks
from bots.backtests.models import Backtest
from bots.tests.conftest import paper_account_for

FORM = {
    "strategy": "futures_grid",
    "symbol": "BTCUSDT",
    "interval": "5m",
    "start": "2023-01-03",
    "end": "2023-01-05",
    "mode": "short",
    "lower_price": "16000",
    "upper_price": "18000",
    "grid_count": "20",
    "spacing": "arithmetic",
    "investment": "1000",
    "leverage": "5",
}


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(tasks.run_backtest, "delay", sent.append)
    return sent


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_choosing_the_futures_grid_shows_its_fields(trader) -> None:
    client = signed_in(trader)
    page = client.get("/backtests/").content.decode()
    assert 'href="/backtests/?strategy=futures_grid#backtest-new"' in page
    futures = client.get("/backtests/?strategy=futures_grid").content.decode()
    for label in ("Mode", "Leverage", "Margin (USDT)", "Lower price", "Grids"):
        assert label in futures
    fragment = client.get(
        "/backtests/?strategy=futures_grid", headers={"HX-Request": "true"}
    ).content.decode()
    assert fragment.lstrip().startswith('<form id="backtest-form"')
    assert 'name="leverage"' in fragment


def test_the_form_runs_a_futures_grid_and_its_page_shows_funding(trader, queued) -> None:
    client = signed_in(trader)
    response = client.post("/backtests/", FORM)
    assert response.status_code == 302, response.content.decode()[:3000]
    backtest = Backtest.objects.get()
    assert backtest.strategy == "futures_grid"
    assert backtest.config["mode"] == "short"
    assert Decimal(backtest.config["leverage"]) == 5
    tasks.run_backtest(backtest.pk)
    page = client.get(f"/backtests/{backtest.pk}/")
    html = page.content.decode()
    assert 'id="backtest-futures"' in html
    assert "Funding received" in html
    assert "Funding assumed at 0.01% per 8 hours: no funding history ships." in html
    assert 'data-testid="liquidated"' not in html
    rerun = dict(parse_qsl(page.context["rerun_query"]))
    assert rerun["strategy"] == "futures_grid"
    assert rerun["mode"] == "short"
    assert rerun["leverage"] == "5"
    again = client.get(f"/backtests/?{page.context['rerun_query']}").content.decode()
    assert 'name="leverage"' in again

    # Its settings become a futures bot's in the wizard.
    assert f'href="/bots/new/?backtest={backtest.pk}"' in html
    paper_account_for(trader)
    wizard = client.get(f"/bots/new/?backtest={backtest.pk}")
    assert wizard.status_code == 200
    form = wizard.context["form"]
    assert form.initial["mode"] == "short"
    assert form.initial["leverage"] == "5"
    assert form.initial["grid_count"] == 20
    assert form.initial["name"] == f"BTCUSDT futures grid (backtest {backtest.pk})"


def test_a_leverage_above_the_cap_is_refused_beside_its_field(trader, queued) -> None:
    response = signed_in(trader).post("/backtests/", {**FORM, "leverage": "50"})
    assert response.status_code == 400
    errors = response.context["fields"]["leverage"][1]
    assert any("20x" in message for message in errors)
    assert not Backtest.objects.exists()
