"""DCA backtests on the pages: choosing DCA shows its fields (with and without htmx), the form
queues a DCA backtest, its page shows the deal figures the API returns, compare takes it beside a
grid, run again prefills the DCA form, and another trader's is a 404."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils.html import strip_tags

from accounts.tests.factories import make_user
from bots.backtests import tasks
from bots.backtests.models import Backtest, BacktestStatus
from bots.tests.conftest import paper_account_for
from bots.tests.test_api_dca_backtests import DCA_CONFIG
from bots.tests.test_backtest_pages import FORM as GRID_FORM
from bots.views.backtests import DEAL_FIGURES, deal_text
from config.wording import duration_text
from exchanges.paper import market
from trading.numbers import QUOTE_STEP
from trading.templatetags.money import format_amount

FORM = {
    "strategy": "dca",
    "symbol": "BTCUSDT",
    "interval": "5m",
    "start": "2023-01-03",
    "end": "2023-01-04",
    **{key: str(value) for key, value in DCA_CONFIG.items()},
}
DCA_LABELS = (
    "Base order size",
    "Safety order size",
    "Price deviation (%)",
    "Step scale",
    "Volume scale",
    "Max safety orders",
    "Max active safety orders",
    "Take profit (%)",
    "Take profit on",
    "Trailing deviation (%)",
    "Stop loss (%)",
    "Direction",
)


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(tasks.run_backtest, "delay", sent.append)
    return sent


def signed_in(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run_one(client: Client, form: dict[str, str] = FORM, **changes: str) -> Backtest:
    response = client.post("/backtests/", {**form, **changes})
    assert response.status_code == 302, response.content.decode()[:3000]
    backtest = Backtest.objects.latest("pk")
    tasks.run_backtest(backtest.pk)
    backtest.refresh_from_db()
    return backtest


def test_choosing_dca_shows_its_fields_with_a_link_and_with_htmx(trader) -> None:
    client = signed_in(trader)
    grid_page = client.get("/backtests/").content.decode()
    assert "Lower price" in grid_page
    assert "Base order size" not in grid_page
    # A plain link (no JS) beside the htmx request that keeps what was typed.
    assert 'href="/backtests/?strategy=dca#backtest-new"' in grid_page
    assert 'hx-get="/backtests/?strategy=dca"' in grid_page
    dca_page = client.get("/backtests/?strategy=dca").content.decode()
    for label in DCA_LABELS:
        assert f">{label}</label>" in dca_page, label
    assert 'name="strategy" value="dca"' in dca_page
    assert "Lower price" not in dca_page
    assert "Max safety orders" in strip_tags(dca_page)
    fragment = client.get(
        "/backtests/?strategy=dca&symbol=ETHUSDT&interval=1h", headers={"HX-Request": "true"}
    ).content.decode()
    assert fragment.lstrip().startswith('<form id="backtest-form"')
    assert "<html" not in fragment
    assert '<option value="ETHUSDT" selected>' in fragment  # the trader's choices stay
    assert '<option value="1h" selected>' in fragment
    assert ">Base order size</label>" in fragment


def test_the_form_queues_a_dca_backtest_and_its_page_shows_the_apis_deal_figures(
    trader, queued, django_capture_on_commit_callbacks
) -> None:
    client = signed_in(trader)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/backtests/", {**FORM, "volume_scale": "", "take_profit_on": ""})
    assert response.status_code == 302, response.content.decode()[:3000]
    backtest = Backtest.objects.get(owner=trader)
    assert queued == [backtest.pk]
    assert backtest.strategy == "dca"
    assert backtest.status == BacktestStatus.QUEUED
    assert (backtest.symbol, backtest.interval) == ("BTCUSDT", "5m")
    assert backtest.config["base_order_size"] == "100"
    assert backtest.config["price_deviation"] == "0.1"
    assert backtest.config["max_safety_orders"] == 3
    assert backtest.config["volume_scale"] == "1"  # left empty: the strategy's default
    assert backtest.config["take_profit_on"] == "total"

    tasks.run_backtest(backtest.pk)
    page = client.get(f"/backtests/{backtest.pk}/").content.decode()
    api = client.get(f"/api/v1/backtests/{backtest.pk}/").json()
    assert api["status"] == "done", api["error"]
    deals = api["metrics"]["deals"]
    block = page.split('id="backtest-deals"')[1].split("</section>")[0]
    for figure in DEAL_FIGURES:
        value = deals[figure.key.removeprefix("deals.")]
        row = block.split(f'data-metric="{figure.key}"')[1].split("</div>")[0]
        assert f"<dt>{figure.label}</dt>" in row
        assert f"<dd>{deal_text(figure, value)}</dd>" in row
    assert "<dd>2</dd>" in block  # deals closed
    assert duration_text(deals["average_duration"]) == "3 h 15 min" in block
    assert duration_text(deals["max_duration"]) == "5 h 45 min" in block
    open_row = block.split('data-metric="deals.open_deal"')[1].split("</div>")[0]
    assert "Deal still open" in open_row
    unrealised = format_amount(deals["open_deal"]["unrealized"], QUOTE_STEP, signed=True)
    assert unrealised.startswith("-")
    assert f"Yes: unrealised PnL {unrealised}, 3 safety orders used" in open_row
    assert "Deal profit" in page
    fills = strip_tags(page.split('id="backtest-fills"')[1])
    assert "Base order" in fills
    assert "Safety order 1" in fills
    assert "Take profit" in fills
    assert 'data-metric="time_in_range"' not in page
    assert f"/bots/new/?backtest={backtest.pk}" in page  # the DCA wizard takes its settings
    assert "take profit 0.2% on total" in strip_tags(page)


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"price_deviation": "0"}, "price_deviation", "above zero"),
        ({"take_profit": ""}, "take_profit", "required"),
        ({"max_safety_orders": "0"}, "max_safety_orders", ""),
        ({"max_active_safety_orders": "5"}, "max_active_safety_orders", "active"),
    ],
)
def test_bad_dca_settings_are_refused_beside_their_field(trader, queued, changes, field, message) -> None:
    response = signed_in(trader).post("/backtests/", {**FORM, **changes})
    assert response.status_code == 400
    page = response.content.decode()
    errors = page.split(f'id="errors-{field}"')[1].split("</div>")[0]
    assert "<li>" in errors
    assert message in errors
    assert 'name="strategy" value="dca"' in page  # the DCA form comes back, as typed
    assert not Backtest.objects.exists()
    assert queued == []


def test_run_again_prefills_the_dca_form(trader, queued) -> None:
    client = signed_in(trader)
    backtest = run_one(client, stop_loss="5", max_active_safety_orders="2")
    page = client.get(f"/backtests/{backtest.pk}/").content.decode()
    link = page.split('href="/backtests/?')[1].split('"')[0].replace("&amp;", "&")
    form = client.get(f"/backtests/?{link}").content.decode()
    for name, value in (
        ("base_order_size", "100"),
        ("safety_order_size", "50"),
        ("price_deviation", "0.1"),
        ("max_safety_orders", "3"),
        ("max_active_safety_orders", "2"),
        ("take_profit", "0.2"),
        ("stop_loss", "5"),
        ("strategy", "dca"),
    ):
        assert f'name="{name}" value="{value}"' in form, name


def test_compare_takes_a_dca_backtest_beside_a_grid(trader, queued) -> None:
    client = signed_in(trader)
    grid_run = run_one(client, GRID_FORM, end="2023-01-04")
    dca_run = run_one(client)
    response = client.get(f"/backtests/compare/?ids={grid_run.pk}&ids={dca_run.pk}")
    assert response.status_code == 200
    page = response.content.decode()
    assert "take profit 0.2%" in page
    deals_row = page.split('data-metric="deals.deals_closed"')[1].split("</tr>")[0]
    assert "<td>—</td><td>2</td>" in deals_row
    range_row = page.split('data-metric="time_in_range"')[1].split("</tr>")[0]
    assert range_row.count("<td>") == 2
    assert range_row.endswith("<td>—</td>")
    pnl_row = page.split('data-metric="total_pnl"')[1].split("</tr>")[0]
    assert "—" not in pnl_row


def test_another_traders_dca_backtest_is_a_404(trader, queued) -> None:
    backtest = run_one(signed_in(trader))
    stranger = signed_in(make_user(email="dca-stranger@example.com"))
    assert stranger.get(f"/backtests/{backtest.pk}/").status_code == 404
    status = stranger.get(f"/backtests/{backtest.pk}/status/", headers={"HX-Request": "true"})
    assert status.status_code == 404
    assert f"#{backtest.pk} " not in stranger.get("/backtests/").content.decode()


def test_a_dca_backtest_starts_the_dca_wizard_with_its_settings(trader, queued) -> None:
    market.set_price("BTCUSDT", Decimal("54000"))
    paper_account_for(trader)
    client = signed_in(trader)
    backtest = run_one(client, stop_loss="5", max_active_safety_orders="2")
    page = client.get(f"/backtests/{backtest.pk}/").content.decode()
    assert f'href="/bots/new/?backtest={backtest.pk}"' in page

    form = client.get(f"/bots/new/?backtest={backtest.pk}")
    assert form.status_code == 200
    html = form.content.decode()
    assert 'name="strategy" value="dca"' in html
    for name, value in (("base_order_size", "100"), ("price_deviation", "0.1"), ("stop_loss", "5")):
        assert f'name="{name}" value="{value}"' in html, name
    assert f"BTCUSDT DCA (backtest {backtest.pk})" in html

    someone_else = make_user(email="dca-prefill-stranger@example.com")
    paper_account_for(someone_else)
    stranger = signed_in(someone_else)
    assert stranger.get(f"/bots/new/?backtest={backtest.pk}").status_code == 404
    assert client.get("/bots/new/?strategy=dca&backtest=x1").status_code == 404


def test_a_limit_base_order_is_backtested_and_run_again_with_it(trader, queued) -> None:
    client = signed_in(trader)
    backtest = run_one(client, base_order_type="limit")
    assert backtest.config["base_order_type"] == "limit"
    assert backtest.status == BacktestStatus.DONE, backtest.error
    page = client.get(f"/backtests/{backtest.pk}/").content.decode()
    assert "base order 100 (limit)" in page
    link = page.split('href="/backtests/?')[1].split('"')[0].replace("&amp;", "&")
    form = client.get(f"/backtests/?{link}").content.decode()
    assert '<option value="limit" selected>' in form
