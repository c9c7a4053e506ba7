"""The optimisation page: the form queues a search through the API's own checks, refusals land
beside their fields, the ranked table shows the API's figures in- and out-of-sample, Cancel stops
the chunks for real, and searches never count against the monthly backtests."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.test.utils import override_settings

from accounts.models import User
from accounts.tests.factories import make_user
from billing import entitlements
from billing.tests.helpers import end_trial
from bots.backtest import optimise
from bots.backtests import optimise_run, tasks
from bots.backtests.models import Backtest, BacktestStatus, Optimisation, OptimisationChunk
from bots.tests.test_backtest_pages import FORM as BACKTEST_FORM
from bots.views.optimisations import score_cells

FORM = {
    "strategy": "grid",
    "symbol": "BTCUSDT",
    "interval": "5m",
    "start": "2023-01-03",
    "end": "2023-01-10",
    "lower_price_min": "16300",
    "lower_price_max": "16700",
    "upper_price_min": "17300",
    "upper_price_max": "18000",
    "grid_count_min": "5",
    "grid_count_max": "30",
    "spacings": ["arithmetic", "geometric"],
    "directions": ["long"],
    "investment": "1000",
    "objective": "return_over_drawdown",
    "train_percent": "60",
    "runs": "60",
}


@pytest.fixture
def chunks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    """Queued work, run by the test as workers would."""
    sent: list[tuple[int, int]] = []
    monkeypatch.setattr(tasks.optimise_backtest, "delay", lambda pk: None)
    monkeypatch.setattr(tasks.optimise_backtest_chunk, "delay", lambda *args: sent.append(args))
    return sent


def signed_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def start(client: Client, **changes: Any) -> Optimisation:
    response = client.post("/backtests/optimise/", {**FORM, **changes})
    assert response.status_code == 302, response.content.decode()[:3000]
    optimisation = Optimisation.objects.latest("pk")
    assert response["Location"] == f"/backtests/optimise/{optimisation.pk}/"
    return optimisation


def test_the_form_queues_the_search_the_api_would_and_the_table_shows_the_apis_figures(
    trader, chunks
) -> None:
    client = signed_in(trader)
    assert 'href="/backtests/optimise/"' in client.get("/backtests/").content.decode()
    optimisation = start(client)
    search = optimise_run.search_from_json(optimisation.search)
    assert search.method is optimise.Method.RANDOM
    assert search.runs == 60
    assert search.objective is optimise.Objective.RETURN_OVER_DRAWDOWN
    assert str(search.train_fraction) == "0.6"
    assert search.bounds.spacings == (optimise.grid.Spacing.ARITHMETIC, optimise.grid.Spacing.GEOMETRIC)

    waiting = client.get(f"/backtests/optimise/{optimisation.pk}/").content.decode()
    assert f'ws-connect="/ws/optimisations/{optimisation.pk}/"' in waiting
    assert "<progress" in waiting
    assert f'href="/backtests/optimise/{optimisation.pk}/"' in waiting  # the refresh without JS

    tasks.optimise_backtest(optimisation.pk)
    for args in chunks:
        tasks.optimise_backtest_chunk(*args)

    page = client.get(f"/backtests/optimise/{optimisation.pk}/").content.decode()
    api = client.get(f"/api/v1/backtests/optimize/{optimisation.pk}/").json()
    assert api["status"] == "done"
    assert "<progress" not in page
    assert "Optimised on (first 60%)" in page
    assert "Tested on (last 40%)" in page
    rows = page.split("<tr data-candidate=")[1:]
    assert len(rows) == len(api["results"]["ranked"]) > 1
    for row, ranked in zip(rows, api["results"]["ranked"], strict=True):
        assert row.startswith(f'"{ranked["candidate"]}"')
        for part in ("train", "report"):
            cells = score_cells(ranked[part])
            for key in ("total_return", "max_drawdown", "return_over_drawdown", "sharpe"):
                shown = row.split(f'data-figure="{part}.{key}"')[1].split(">", 1)[1].split("<", 1)[0]
                assert shown.strip() == cells[key]
        assert f"lower_price={ranked['lower_price']}" in row
        assert f"grid_count={ranked['grid_count']}" in row
        assert 'href="/bots/new/?' in row
        assert 'href="/backtests/?' in row


def test_create_a_bot_and_backtest_this_open_prefilled(trader, chunks) -> None:
    client = signed_in(trader)
    optimisation = start(client)
    tasks.optimise_backtest(optimisation.pk)
    for args in chunks:
        tasks.optimise_backtest_chunk(*args)
    best = client.get(f"/api/v1/backtests/optimize/{optimisation.pk}/").json()["results"]["ranked"][0]
    page = client.get(f"/backtests/optimise/{optimisation.pk}/").content.decode()
    row = page.split("<tr data-candidate=")[1]
    backtest_link = row.split('href="/backtests/?')[1].split('"')[0].replace("&amp;", "&")

    form = client.get(f"/backtests/?{backtest_link}").context["form"]
    assert form.initial["lower_price"] == best["lower_price"]
    assert form.initial["upper_price"] == best["upper_price"]
    assert form.initial["grid_count"] == str(best["grid_count"])
    assert form.initial["interval"] == "5m"
    response = client.post("/backtests/", {**BACKTEST_FORM, **form.initial})
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"lower_price_min": "16800"}, "lower_price_max", "is above the largest"),
        ({"runs": "5000"}, "runs", "less than or equal to 2000"),
        ({"spacings": []}, "spacings", "required"),
        ({"end": "2023-01-02"}, "end", "end must be after start"),
        ({"train_percent": "99"}, "train_percent", "less than or equal to 95"),
        ({"start": "2001-01-01", "end": "2001-01-08"}, "symbol", "No BTCUSDT 5m candles"),
    ],
)
def test_bad_input_is_refused_beside_its_field_and_nothing_is_queued(
    trader, chunks, changes, field, message
) -> None:
    response = signed_in(trader).post("/backtests/optimise/", {**FORM, **changes})
    assert response.status_code == 400
    errors = response.content.decode().split(f'id="errors-{field}"')[1].split("</div>")[0]
    assert message in errors
    assert not Optimisation.objects.exists()


@override_settings(BACKTEST_MAX_RUNS=50)
def test_the_run_cap_is_the_searchs_own(trader, chunks) -> None:
    response = signed_in(trader).post("/backtests/optimise/", {**FORM, "runs": "51"})
    assert response.status_code == 400
    assert "at most 50" in response.content.decode()


def test_cancel_stops_the_chunks_being_scored_and_those_still_queued(
    trader, chunks, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = signed_in(trader)
    optimisation = start(client, runs="100")
    tasks.optimise_backtest(optimisation.pk)
    assert len(chunks) == 4
    scored: list[int] = []
    real_evaluate = optimise.evaluate

    def cancel_on_the_third(index: int, *args: Any) -> Any:
        scored.append(index)
        if len(scored) == 3:  # the trader presses Cancel while this chunk is scoring
            response = client.post(f"/backtests/optimise/{optimisation.pk}/cancel/")
            assert response.status_code == 302
        return real_evaluate(index, *args)

    monkeypatch.setattr(optimise, "evaluate", cancel_on_the_third)
    for args in chunks:
        tasks.optimise_backtest_chunk(*args)

    optimisation.refresh_from_db()
    assert optimisation.status == BacktestStatus.CANCELLED
    # The chunk under way stopped at its next look (every CHECK_EVERY grids); the rest never began.
    assert len(scored) == optimise_run.CHECK_EVERY
    assert not OptimisationChunk.objects.filter(optimisation=optimisation, done=True).exists()
    assert optimisation.results is None
    page = client.get(f"/backtests/optimise/{optimisation.pk}/").content.decode()
    assert "was cancelled" in page
    assert "<progress" not in page


def test_searches_do_not_count_against_the_monthly_backtests(db: None, chunks) -> None:
    """Free allows 5 backtests a month; a trader who used them can still optimise, and searching
    leaves the count where it was."""
    trader = make_user(email="free-optimiser@example.com")
    end_trial(trader)
    client = signed_in(trader)
    for _ in range(4):
        assert client.post("/backtests/", BACKTEST_FORM).status_code == 302
    optimisation = start(client)
    tasks.optimise_backtest(optimisation.pk)
    for args in chunks:
        tasks.optimise_backtest_chunk(*args)
    assert entitlements.backtests_this_month(trader) == 4
    assert client.post("/backtests/", BACKTEST_FORM).status_code == 302  # the fifth is still free
    assert client.post("/backtests/", BACKTEST_FORM).status_code == 403
    assert start(client).status == BacktestStatus.QUEUED  # and searching still is
    assert Backtest.objects.filter(owner=trader).count() == 5
