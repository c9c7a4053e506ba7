"""Parameter optimisation through the API and its chunked Celery run: /api/v1/backtests/optimize/."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots.backtest import kernel, optimise
from bots.backtests import optimise_run, tasks
from bots.backtests.models import BacktestStatus, Optimisation, OptimisationChunk
from bots.tests.test_api_backtests import shipped_window
from exchanges.base import Candle
from exchanges.market_data import store
from exchanges.paper.instruments import INSTRUMENTS

D = Decimal
BTC = INSTRUMENTS["BTCUSDT"]
URL = "/api/v1/backtests/optimize/"
BODY: dict[str, Any] = {
    "symbol": "BTCUSDT",
    "interval": "5m",
    "start": "2023-01-03T00:00:00Z",
    "end": "2023-01-10T00:00:00Z",
    "investment": "1000",
    "bounds": {
        "lower_price": {"min": "16300", "max": "16700"},
        "upper_price": {"min": "17300", "max": "18000"},
        "grid_count": {"min": 5, "max": 30},
        "spacings": ["arithmetic", "geometric"],
        "directions": ["long", "short"],
    },
    "method": "grid",
    "steps": 3,
    "objective": "total_return",
    "top": 5,
}


@pytest.fixture
def bybit_week(db: None) -> list[Candle]:
    """A week of the shipped 5m series stored as if imported from Bybit."""
    candles = shipped_window()
    store.save_candles(store.Series("bybit", "BTCUSDT", "5m"), candles)
    return candles


@pytest.fixture
def chunks_sent(monkeypatch: pytest.MonkeyPatch) -> list[tuple[int, int]]:
    sent: list[tuple[int, int]] = []
    monkeypatch.setattr(tasks.optimise_backtest_chunk, "delay", lambda *args: sent.append(args))
    return sent


def post(client: Any, **changes: Any) -> Any:
    return client.post(URL, {**BODY, **changes}, format="json")


def direct(candles: list[Candle], **changes: Any) -> optimise.Outcome:
    """The same search in one pass in this process."""
    given = {**BODY, **changes}
    search = optimise.Search(
        base=optimise_run.search_from_json(Optimisation.objects.latest("pk").search).base,
        bounds=optimise.Bounds(
            (D(given["bounds"]["lower_price"]["min"]), D(given["bounds"]["lower_price"]["max"])),
            (D(given["bounds"]["upper_price"]["min"]), D(given["bounds"]["upper_price"]["max"])),
            (given["bounds"]["grid_count"]["min"], given["bounds"]["grid_count"]["max"]),
            tuple(optimise.grid.Spacing(s) for s in given["bounds"]["spacings"]),
            tuple(optimise.grid.Direction(d) for d in given["bounds"]["directions"]),
        ),
        method=optimise.Method(given["method"]),
        steps=given["steps"],
        objective=optimise.Objective(given["objective"]),
        top=given["top"],
    )
    return optimise.optimise(search, BTC, kernel.CandleArrays.of(candles, BTC.tick_size))


def run_all(optimisation_id: int, sent: list[tuple[int, int]], *, reverse: bool = False) -> None:
    tasks.optimise_backtest(optimisation_id)
    for args in reversed(sent) if reverse else list(sent):
        tasks.optimise_backtest_chunk(*args)


@pytest.mark.parametrize("reverse", [False, True])
def test_a_chunked_optimisation_equals_one_pass_and_its_winner_is_rechecked_exactly(
    trader, bybit_week, chunks_sent, django_capture_on_commit_callbacks, monkeypatch, reverse
) -> None:
    queued: list[int] = []
    monkeypatch.setattr(tasks.optimise_backtest, "delay", queued.append)
    client = bearer(trader)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert body["candidates"] == 3 * 3 * 3 * 4
    assert body["results"] is None
    assert body["search"]["bounds"]["lower_price"] == {"min": "16300", "max": "16700"}
    assert queued == [body["id"]]

    run_all(body["id"], chunks_sent, reverse=reverse)

    assert len(chunks_sent) == 5  # 108 candidates in chunks of 25: every worker free takes one
    detail = client.get(f"{URL}{body['id']}/").json()
    assert detail["status"] == "done", detail["error"]
    assert detail["progress"] == 100
    assert detail["candles"] == 2016
    assert detail["split_at"] == "2023-01-07T21:35:00Z"  # 70% of 2,016 candles: the 1,411th opens here
    expected = direct(bybit_week)
    assert detail["evaluated"] == expected.evaluated
    assert detail["skipped"] == expected.skipped
    assert detail["evaluated"] + detail["skipped"] == 108
    ranked = detail["results"]["ranked"]
    assert [r["candidate"] for r in ranked] == [r.index for r in expected.ranked]
    train_returns = [str(r.train.total_return) for r in expected.ranked]
    assert [r["train"]["total_return"] for r in ranked] == train_returns
    assert [r["report"]["total_return"] for r in ranked] == [
        str(r.report.total_return) if r.report else None for r in expected.ranked
    ]
    best = ranked[0]
    assert isinstance(best["lower_price"], str)
    assert isinstance(best["train"]["grid_profit"], str)
    # The objective, a float ranked on, to ten significant digits.
    assert abs(D(best["train"]["objective"]) - D(best["train"]["total_return"])) < D("1e-11")
    winner = detail["results"]["winner"]
    assert winner["agrees"] is True
    assert D(winner["train"]["total_return"]) == D(best["train"]["total_return"])
    assert D(winner["report"]["total_return"]) == D(best["report"]["total_return"])


def test_a_message_delivered_twice_changes_nothing(trader, bybit_week, chunks_sent) -> None:
    optimisation_id = post(bearer(trader)).json()["id"]
    run_all(optimisation_id, chunks_sent)
    results = Optimisation.objects.get(pk=optimisation_id).results

    tasks.optimise_backtest(optimisation_id)
    for args in chunks_sent:
        tasks.optimise_backtest_chunk(*args)

    assert len(chunks_sent) == 5
    assert Optimisation.objects.get(pk=optimisation_id).results == results


def test_a_cancelled_optimisation_never_runs(trader, bybit_week, chunks_sent) -> None:
    client = bearer(trader)
    optimisation_id = post(client).json()["id"]
    response = client.post(f"{URL}{optimisation_id}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"

    tasks.optimise_backtest(optimisation_id)

    assert chunks_sent == []
    assert Optimisation.objects.get(pk=optimisation_id).status == BacktestStatus.CANCELLED


def test_an_optimisation_cancelled_midway_stops_every_chunk_and_keeps_nothing(
    trader, bybit_week, chunks_sent, monkeypatch
) -> None:
    client = bearer(trader)
    optimisation_id = post(client).json()["id"]
    tasks.optimise_backtest(optimisation_id)
    tasks.optimise_backtest_chunk(*chunks_sent[0])
    evaluated: list[int] = []
    real = optimise.evaluate

    def cancel_on_the_third(index: int, *args: Any) -> optimise.Score | None:
        evaluated.append(index)
        if len(evaluated) == 3:
            assert client.post(f"{URL}{optimisation_id}/cancel/").status_code == 200
        return real(index, *args)

    monkeypatch.setattr(optimise, "evaluate", cancel_on_the_third)
    for args in chunks_sent[1:]:
        tasks.optimise_backtest_chunk(*args)

    assert len(evaluated) == optimise_run.CHECK_EVERY  # seen at the next look; later chunks never start
    optimisation = Optimisation.objects.get(pk=optimisation_id)
    assert optimisation.status == BacktestStatus.CANCELLED
    assert optimisation.results is None
    assert OptimisationChunk.objects.filter(optimisation=optimisation, done=True).count() == 1
    assert client.post(f"{URL}{optimisation_id}/cancel/").json()["status"] == "cancelled"


def test_a_finished_optimisation_cannot_be_cancelled(trader, bybit_week, chunks_sent) -> None:
    client = bearer(trader)
    optimisation_id = post(client).json()["id"]
    run_all(optimisation_id, chunks_sent)
    response = client.post(f"{URL}{optimisation_id}/cancel/")
    assert response.status_code == 409
    assert error_of(response)["code"] == "backtest_finished"


def test_searches_over_the_cap_are_refused_with_the_numbers(trader, bybit_week, settings) -> None:
    settings.BACKTEST_MAX_RUNS = 107
    response = post(bearer(trader))
    assert response.status_code == 400
    message = error_of(response)["fields"]["steps"][0]
    assert "tries 108 grids" in message
    assert "at most 107" in message
    random = post(bearer(trader), method="random", runs=108)
    assert "at most 107" in error_of(random)["fields"]["runs"][0]
    assert not Optimisation.objects.exists()
    settings.BACKTEST_MAX_RUNS = 108
    assert post(bearer(trader)).status_code == 202


def test_the_default_cap_is_two_thousand_runs(trader, bybit_week) -> None:
    response = post(bearer(trader), method="random", runs=2001)
    assert "at most 2,000" in error_of(response)["fields"]["runs"][0]
    assert post(bearer(trader), method="random", runs=2000).status_code == 202


def bounds(**changes: Any) -> dict[str, Any]:
    return {"bounds": {**BODY["bounds"], **changes}}


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        (bounds(lower_price={"min": "16800", "max": "16700"}), "bounds.lower_price", "above the largest"),
        (bounds(grid_count={"min": 30, "max": 5}), "bounds.grid_count", "above the largest"),
        (bounds(upper_price={"min": "15000", "max": "16000"}), "bounds.upper_price", "at or below"),
        (bounds(grid_count={"min": 1, "max": 5}), "bounds.grid_count.min", ""),
        (bounds(spacings=[]), "bounds.spacings", ""),
        (bounds(directions=["sideways"]), "bounds.directions.0", "not a valid choice"),
        ({"investment": "0"}, "investment", "above zero"),
        (bounds(upper_price={"min": 0, "max": "18000"}), "bounds.upper_price.min", "above zero"),
        ({"trigger_price": "0"}, "trigger_price", "above zero"),
        ({"objective": "luck"}, "objective", ""),
        ({"train_fraction": "1"}, "train_fraction", ""),
        ({"symbol": "DOGEUSDT"}, "symbol", "DOGEUSDT"),
        ({"end": "2023-01-02T00:00:00Z"}, "end", "before it starts"),
        ({"steps": 0}, "steps", ""),
    ],
)
def test_bad_requests_are_400s_naming_the_field(trader, bybit_week, changes, field, words) -> None:
    response = post(bearer(trader), **changes)
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert field in error["fields"], error
    assert words in " ".join(error["fields"][field])
    assert not Optimisation.objects.exists()


def test_a_search_with_no_grid_the_venue_accepts_fails_with_a_reason(trader, bybit_week, chunks_sent) -> None:
    client = bearer(trader)
    optimisation_id = post(client, investment="1").json()["id"]
    run_all(optimisation_id, chunks_sent)
    detail = client.get(f"{URL}{optimisation_id}/").json()
    assert detail["status"] == "failed"
    assert "None of the 108 candidates" in detail["error"]


def test_another_traders_optimisation_is_a_404(trader, bybit_week) -> None:
    optimisation_id = post(bearer(trader)).json()["id"]
    other = bearer(make_user())
    assert other.get(f"{URL}{optimisation_id}/").status_code == 404
    assert other.post(f"{URL}{optimisation_id}/cancel/").status_code == 404
    assert other.get(URL).json()["results"] == []
    assert [o["id"] for o in bearer(trader).get(URL).json()["results"]] == [optimisation_id]
    assert Optimisation.objects.get(pk=optimisation_id).status == BacktestStatus.QUEUED


def test_a_read_only_token_cannot_optimise(trader, bybit_week) -> None:
    assert post(bearer(trader, "read")).status_code == 403
    assert not Optimisation.objects.exists()


def test_chunks_a_dead_worker_left_are_queued_again_and_the_search_finishes(
    trader, bybit_week, chunks_sent, monkeypatch
) -> None:
    restarted: list[int] = []
    monkeypatch.setattr(tasks.optimise_backtest, "delay", restarted.append)
    optimisation_id = post(bearer(trader)).json()["id"]
    tasks.optimise_backtest(optimisation_id)
    tasks.optimise_backtest_chunk(*chunks_sent[0])  # then the workers holding the rest died
    first_sent = list(chunks_sent)
    chunks_sent.clear()
    assert tasks.requeue_stale_backtests() == 0  # still beating recently

    beat = Optimisation.objects.get(pk=optimisation_id).heartbeat_at
    assert beat is not None
    Optimisation.objects.filter(pk=optimisation_id).update(heartbeat_at=beat - timedelta(minutes=6))
    assert tasks.requeue_stale_backtests() == 4
    assert chunks_sent == first_sent[1:]
    assert tasks.requeue_stale_backtests() == 0  # its heartbeat moved: not queued twice at once
    for args in chunks_sent:
        tasks.optimise_backtest_chunk(*args)

    assert Optimisation.objects.get(pk=optimisation_id).status == BacktestStatus.DONE
    assert restarted == []


def test_a_search_whose_worker_died_before_writing_its_chunks_begins_again(
    trader, bybit_week, chunks_sent, monkeypatch
) -> None:
    restarted: list[int] = []
    monkeypatch.setattr(tasks.optimise_backtest, "delay", restarted.append)
    optimisation_id = post(bearer(trader)).json()["id"]
    long_ago = timezone.now() - timedelta(minutes=6)
    Optimisation.objects.filter(pk=optimisation_id).update(
        status=BacktestStatus.RUNNING, heartbeat_at=long_ago
    )

    assert tasks.requeue_stale_backtests() == 1
    assert restarted == [optimisation_id]
    run_all(optimisation_id, chunks_sent)
    assert Optimisation.objects.get(pk=optimisation_id).status == BacktestStatus.DONE


def test_optimisations_run_on_the_routine_queue() -> None:
    from bots.tests.test_webhook_queue import resolved_queue

    assert resolved_queue(tasks.optimise_backtest.name) == "celery"
    assert resolved_queue(tasks.optimise_backtest_chunk.name) == "celery"
