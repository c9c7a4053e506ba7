"""The backtest pages: the form queues a backtest through the API's checks, refusals land beside
their fields, results show the API's figures, compare, a bot from a backtest, tenant isolation."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.utils.html import strip_tags

from accounts.models import User
from accounts.tests.api import bearer
from accounts.tests.factories import make_user
from billing.tests.helpers import end_trial
from bots.backtests import tasks
from bots.backtests.models import Backtest, BacktestStatus
from bots.tests.conftest import paper_account_for
from bots.views.backtests import FIGURES, formatted
from exchanges.paper.instruments import INSTRUMENTS
from trading.numbers import QUOTE_STEP
from trading.templatetags.money import format_amount, plain

FORM = {
    "symbol": "BTCUSDT",
    "interval": "5m",
    "start": "2023-01-03",
    "end": "2023-01-10",
    "lower_price": "16400",
    "upper_price": "17400",
    "grid_count": "10",
    "spacing": "arithmetic",
    "direction": "long",
    "investment": "1000",
}


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(tasks.run_backtest, "delay", sent.append)
    return sent


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def run_one(client: Client, **changes: Any) -> Backtest:
    response = client.post("/backtests/", {**FORM, **changes})
    assert response.status_code == 302, response.content.decode()[:3000]
    backtest = Backtest.objects.latest("pk")
    assert response["Location"] == f"/backtests/{backtest.pk}/"
    tasks.run_backtest(backtest.pk)
    backtest.refresh_from_db()
    return backtest


def test_the_form_queues_a_backtest_and_its_page_shows_the_apis_figures(
    trader, queued, django_capture_on_commit_callbacks
) -> None:
    client = signed_in(trader)
    assert 'href="/backtests/"' in client.get("/").content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/backtests/", FORM)
    backtest = Backtest.objects.get(owner=trader)
    assert response.status_code == 302
    assert queued == [backtest.pk]
    assert backtest.status == BacktestStatus.QUEUED
    assert backtest.symbol == "BTCUSDT"
    assert backtest.interval == "5m"
    assert backtest.config["lower_price"] == "16400"
    assert backtest.config["grid_count"] == 10
    assert backtest.start.isoformat() == "2023-01-03T00:00:00+00:00"

    waiting = client.get(f"/backtests/{backtest.pk}/").content.decode()
    assert f'ws-connect="/ws/backtests/{backtest.pk}/"' in waiting  # live progress
    assert 'hx-trigger="every 3s"' in waiting  # the fallback while the socket is down
    assert "Waiting for a worker" in waiting
    assert f'href="/backtests/{backtest.pk}/"' in waiting
    fragment = client.get(f"/backtests/{backtest.pk}/status/", headers={"HX-Request": "true"})
    assert "HX-Refresh" not in fragment
    assert "0%" in fragment.content.decode()

    tasks.run_backtest(backtest.pk)
    fragment = client.get(f"/backtests/{backtest.pk}/status/", headers={"HX-Request": "true"})
    assert fragment["HX-Refresh"] == "true"  # the page reloads with its results
    page = client.get(f"/backtests/{backtest.pk}/").content.decode()
    api = client.get(f"/api/v1/backtests/{backtest.pk}/").json()
    assert api["status"] == "done"
    for figure in FIGURES:
        value: Any = api["metrics"]
        for part in figure.key.split("."):
            value = value[part]
        assert f'data-metric="{figure.key}"' in page
        assert formatted(figure, value, INSTRUMENTS["BTCUSDT"].tick_size) in page
    assert 'id="backtest-chart-data"' in page
    assert f'href="/bots/new/?backtest={backtest.pk}"' in page
    assert "<script>" not in page


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"end": "2023-01-02"}, "end", "end must be after start"),
        ({"end": "2099-01-01"}, "end", "ends in the future"),
        ({"symbol": "DOGEUSDT"}, "symbol", "Select a valid choice"),
        ({"lower_price": "18000"}, "upper_price", "must be above the lower price"),
        ({"investment": ""}, "investment", "required"),
        ({"start": "2001-01-01", "end": "2001-01-08"}, "symbol", "No BTCUSDT 5m candles"),
    ],
)
def test_bad_input_is_refused_beside_its_field_and_nothing_is_queued(
    trader, queued, changes, field, message
) -> None:
    response = signed_in(trader).post("/backtests/", {**FORM, **changes})
    assert response.status_code == 400
    page = response.content.decode()
    errors = page.split(f'id="errors-{field}"')[1].split("</div>")[0]
    assert "<li>" in errors
    assert message in errors
    assert not Backtest.objects.exists()
    assert queued == []


def test_the_fills_table_and_the_settings_equal_the_apis_in_utc_whatever_the_traders_zone(
    trader, queued
) -> None:
    trader.time_zone = "Asia/Tokyo"
    trader.save(update_fields=["time_zone"])
    client = signed_in(trader)
    backtest = run_one(client)
    page = client.get(f"/backtests/{backtest.pk}/").content.decode()
    api = bearer(trader)
    body = api.get(f"/api/v1/backtests/{backtest.pk}/").json()
    fills = api.get(f"/api/v1/backtests/{backtest.pk}/fills/?limit=100").json()["results"]
    rows = page.split('<table class="fills-table backtest-fills-table">')[1].split("</tbody>")[0]
    rows_text = [" ".join(strip_tags(row).split()) for row in rows.split("<tr>")[2:]]
    assert len(rows_text) == len(fills) == body["metrics"]["fills"]
    tick = INSTRUMENTS["BTCUSDT"].tick_size
    for shown, fill in zip(rows_text, fills, strict=True):
        when = fill["time"][:16].replace("T", " ")  # UTC, as the column says
        grid = "start" if fill["interval"] is None else str(fill["interval"])
        expected = (
            f"{when} {fill['side'].capitalize()} {format_amount(fill['price'], tick)} "
            f"{plain(fill['quantity'])} {plain(fill['fee'])} {fill['fee_asset']} {grid}"
        )
        assert shown.replace("▲ ", "").replace("▼ ", "") == expected
    config = body["config"]
    assert f"{body['start'][:16].replace('T', ' ')} to {body['end'][:16].replace('T', ' ')} UTC" in page
    assert f"from {plain(config['lower_price'])} to {plain(config['upper_price'])}" in page
    assert f"investment {plain(config['investment'])}" in page


def test_another_traders_backtest_is_a_404_everywhere(trader, queued) -> None:
    backtest = run_one(signed_in(trader))
    other = make_user(email="stranger@example.com")
    paper_account_for(other)
    stranger = signed_in(other)
    for path in (f"/backtests/{backtest.pk}/", f"/backtests/{backtest.pk}/status/"):
        assert stranger.get(path, headers={"HX-Request": "true"}).status_code == 404
    assert stranger.post(f"/backtests/{backtest.pk}/cancel/").status_code == 404
    mine = run_one(stranger)
    assert stranger.get(f"/backtests/compare/?ids={mine.pk}&ids={backtest.pk}").status_code == 404
    assert stranger.get(f"/bots/new/?backtest={backtest.pk}").status_code == 404
    assert f"#{backtest.pk} " not in stranger.get("/backtests/").content.decode()


def test_compare_shows_two_to_four_side_by_side(trader, queued) -> None:
    client = signed_in(trader)
    first = run_one(client)
    second = run_one(client, grid_count="20")
    listing = client.get("/backtests/").content.decode()
    assert f'value="{first.pk}"' in listing
    assert f'value="{second.pk}"' in listing
    page = client.get(f"/backtests/compare/?ids={first.pk}&ids={second.pk}").content.decode()
    row = page.split('data-metric="grid_profit"')[1].split("</tr>")[0]
    for backtest in (first, second):
        assert backtest.metrics is not None
        assert formatted(FIGURES[4], backtest.metrics["grid_profit"], QUOTE_STEP) in row
    too_few = client.get(f"/backtests/compare/?ids={first.pk}", follow=True)
    assert "Tick 2 to 4 backtests" in too_few.content.decode()


def test_cancel_from_the_page_stops_a_queued_backtest(trader, queued) -> None:
    client = signed_in(trader)
    client.post("/backtests/", FORM)
    backtest = Backtest.objects.get()
    assert client.post(f"/backtests/{backtest.pk}/cancel/").status_code == 302
    backtest.refresh_from_db()
    assert backtest.status == BacktestStatus.CANCELLED


def test_a_bot_from_a_backtest_opens_the_wizard_prefilled(trader, queued) -> None:
    paper_account_for(trader)
    client = signed_in(trader)
    backtest = run_one(client, grid_count="12", spacing="geometric", trigger_price="16900")
    page = client.get(f"/bots/new/?backtest={backtest.pk}").content.decode()
    for name, value in (
        ("lower_price", "16400"),
        ("upper_price", "17400"),
        ("grid_count", "12"),
        ("investment", "1000"),
        ("trigger_price", "16900"),
    ):
        assert f'name="{name}" value="{value}"' in page, name
    assert '<option value="geometric" selected>' in page


def test_run_again_with_changes_opens_the_form_with_the_backtests_values(trader, queued) -> None:
    client = signed_in(trader)
    backtest = run_one(client, grid_count="12", trigger_price="16900")
    page = client.get(f"/backtests/{backtest.pk}/").content.decode()
    link = page.split('href="/backtests/?')[1].split('"')[0].replace("&amp;", "&")
    form = client.get(f"/backtests/?{link}").content.decode()
    for name, value in (
        ("lower_price", "16400"),
        ("upper_price", "17400"),
        ("grid_count", "12"),
        ("investment", "1000"),
        ("trigger_price", "16900"),
        ("start", "2023-01-03"),
        ("end", "2023-01-10"),
    ):
        assert f'name="{name}" value="{value}"' in form, name
    assert '<option value="5m" selected>' in form


def test_the_progress_fragment_follows_a_running_backtest_and_a_failure_says_why(trader, queued) -> None:
    client = signed_in(trader)
    client.post("/backtests/", FORM)
    backtest = Backtest.objects.get()
    Backtest.objects.filter(pk=backtest.pk).update(status=BacktestStatus.RUNNING, progress=37)
    fragment = client.get(f"/backtests/{backtest.pk}/status/", headers={"HX-Request": "true"})
    assert "HX-Refresh" not in fragment
    assert 'value="37"' in fragment.content.decode()
    assert "Running" in fragment.content.decode()
    # Without htmx the fragment's address is the page itself.
    assert client.get(f"/backtests/{backtest.pk}/status/")["Location"] == f"/backtests/{backtest.pk}/"

    Backtest.objects.filter(pk=backtest.pk).update(
        status=BacktestStatus.FAILED, error="No BTCUSDT 5m candles are stored in the window any more."
    )
    fragment = client.get(f"/backtests/{backtest.pk}/status/", headers={"HX-Request": "true"})
    assert fragment["HX-Refresh"] == "true"
    page = client.get(f"/backtests/{backtest.pk}/").content.decode()
    assert "This backtest failed: No BTCUSDT 5m candles are stored in the window any more." in page
    assert "every 1s" not in page


def test_a_backtest_beyond_the_plan_is_refused_on_the_page_with_the_way_up(db: None, queued) -> None:
    """Free allows 5 backtests a month: the sixth from the page is a message naming the limit and
    linking to the plans, nothing is queued, and the form keeps what was typed."""
    trader = make_user(email="free-backtester@example.com")
    end_trial(trader)
    client = signed_in(trader)
    for _ in range(5):
        assert client.post("/backtests/", FORM).status_code == 302
    response = client.post("/backtests/", FORM)
    assert response.status_code == 403
    page = response.content.decode()
    assert 'class="message plan-limit error"' in page
    assert "/pricing/" in page
    assert 'value="16400"' in page
    assert Backtest.objects.filter(owner=trader).count() == 5


def test_the_forms_first_window_has_candles_and_a_refusal_says_what_is_on_hand(trader, queued) -> None:
    """A trader's first run, with the form as it opens, finds candles: the window is the newest
    30 days of the finest series on hand, not the last 30 days up to today."""
    client = signed_in(trader)
    form = client.get("/backtests/").context["form"]
    assert (form.initial["interval"], str(form.initial["start"]), str(form.initial["end"])) == (
        "5m",
        "2023-01-10",
        "2023-02-09",
    )
    opened = {**FORM, "interval": "5m", "start": "2023-01-10", "end": "2023-02-09"}
    backtest = run_one(client, **opened)
    assert backtest.status == BacktestStatus.DONE

    refused = client.post("/backtests/", {**FORM, "interval": "1h"})
    assert refused.status_code == 400
    message = strip_tags(refused.content.decode())
    assert "No BTCUSDT 1h candles are on hand between 2023-01-03 00:00 and 2023-01-10 00:00 UTC." in message
    assert "Candles of BTCUSDT on hand: 5m from 2023-01-02 to 2023-02-09." in message
    assert "manage.py" not in message


def test_a_window_without_fills_says_so_instead_of_an_empty_price_chart(trader, queued) -> None:
    """A grid whose lines the price never reaches has no fill to mark: the page says so in words
    rather than drawing an empty chart (which showed a lone "0" on its axis)."""
    client = signed_in(trader)
    backtest = run_one(client, lower_price="10000", upper_price="10500", trigger_price="")
    assert backtest.status == BacktestStatus.DONE, backtest.error
    assert backtest.fills.count() == 0
    page = client.get(f"/backtests/{backtest.pk}/").content.decode()
    assert "No fills in this window" in page
    assert 'class="backtest-chart" id="backtest-price-chart"' not in page
    assert 'id="backtest-equity-chart"' in page  # the equity still has its chart

    traded = run_one(client)
    assert traded.fills.count() > 0
    page = client.get(f"/backtests/{traded.pk}/").content.decode()
    assert "No fills in this window" not in page
    assert 'class="backtest-chart" id="backtest-price-chart"' in page
