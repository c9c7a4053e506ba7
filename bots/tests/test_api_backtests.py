"""Backtests through the API: queued by POST, run by the Celery task in-process, read back;
results equal a direct exact-mode run; tenant isolation, bad input, the cap, cancel, failures."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots import codec
from bots.backtest import exact
from bots.backtest.metrics import metrics
from bots.backtests import run as backtest_run
from bots.backtests import tasks
from bots.backtests.models import Backtest, BacktestFill, BacktestStatus
from bots.backtests.run import metrics_json
from bots.strategies.grid import GridConfigError
from exchanges.base import Candle
from exchanges.market_data import files, store
from exchanges.market_data.models import Candle as StoredCandle
from exchanges.paper.instruments import INSTRUMENTS

D = Decimal
SHIPPED = files.shipped_file("BTCUSDT", "5m")
DAY_START = datetime(2023, 1, 3, tzinfo=UTC)
DAY_END = datetime(2023, 1, 10, tzinfo=UTC)
CONFIG = {
    "lower_price": "16400",
    "upper_price": "17400",
    "grid_count": 10,
    "spacing": "arithmetic",
    "direction": "long",
    "investment": "1000",
}
BODY: dict[str, Any] = {
    "strategy": "grid",
    "config": CONFIG,
    "symbol": "BTCUSDT",
    "interval": "5m",
    "start": "2023-01-03T00:00:00Z",
    "end": "2023-01-10T00:00:00Z",
}


def shipped_window() -> list[Candle]:
    assert SHIPPED is not None
    return [c for c in files.read_candle_file(SHIPPED) if DAY_START <= c.open_time < DAY_END]


@pytest.fixture
def bybit_week(db: None) -> list[Candle]:
    """The shipped day stored as if imported from Bybit: no import at run time."""
    candles = shipped_window()
    store.save_candles(store.Series("bybit", "BTCUSDT", "5m"), candles)
    return candles


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(tasks.run_backtest, "delay", sent.append)
    return sent


def post(client: Any, **changes: Any) -> Any:
    return client.post("/api/v1/backtests/", {**BODY, **changes}, format="json")


def direct_run(candles: list[Candle], **config: Any) -> exact.Result:
    grid = codec.config_from_json({**CONFIG, **config, "symbol": "BTCUSDT"})
    return exact.run(grid, INSTRUMENTS["BTCUSDT"], candles)


def all_fills(client: Any, backtest_id: int) -> list[dict[str, Any]]:
    fills: list[dict[str, Any]] = []
    url: str | None = f"/api/v1/backtests/{backtest_id}/fills/?limit=7"
    while url:
        page = client.get(url).json()
        fills += page["results"]
        url = page["next"]
    return fills


def test_a_backtest_runs_over_the_shipped_series_when_the_store_is_empty(
    trader, queued, django_capture_on_commit_callbacks
) -> None:
    client = bearer(trader)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["status"] == "queued"
    assert body["progress"] == 0
    assert body["metrics"] is None
    assert body["config"]["lower_price"] == "16400"
    assert queued == [body["id"]]  # enqueued once the row is committed
    assert not StoredCandle.objects.exists()

    tasks.run_backtest(body["id"])

    detail = client.get(f"/api/v1/backtests/{body['id']}/").json()
    assert detail["status"] == "done", detail["error"]
    assert detail["progress"] == 100
    assert detail["candles"] == 2016
    expected = direct_run(shipped_window())
    assert detail["metrics"]["total_pnl"] == str(expected.total_pnl)
    assert D(detail["metrics"]["grid_profit"]) == expected.grid_profit
    assert detail["metrics"]["fills"] == len(expected.fills) > 2
    # 2,016 closes thinned to every third (at most 1,000 points), the last close kept.
    curve = expected.equity_curve
    assert [D(p["equity"]) for p in detail["equity"]] == [p.equity for p in [*curve[:-1][::3], curve[-1]]]
    assert detail["equity"][-1]["time"] == "2023-01-09T23:55:00Z"
    assert D(detail["equity"][-1]["equity"]) == curve[-1].equity == D(detail["metrics"]["equity"])
    # The shipped series is in the store now, under the replay venue.
    assert store.count_stored(store.Series(files.REPLAY_VENUE, "BTCUSDT", "5m")) == 11_000 - 1


def test_results_equal_a_direct_exact_run_on_the_same_candles(trader, bybit_week) -> None:
    client = bearer(trader)
    backtest_id = post(client).json()["id"]
    tasks.run_backtest(backtest_id)

    expected = direct_run(bybit_week)
    stored = Backtest.objects.get(pk=backtest_id)
    assert stored.venue == "bybit"
    assert stored.metrics == metrics_json(metrics(expected), expected)
    body = client.get(f"/api/v1/backtests/{backtest_id}/").json()
    figures = body["metrics"]
    assert D(figures["total_return"]) == metrics(expected).total_return
    assert D(figures["max_drawdown"]["value"]) == metrics(expected).max_drawdown.value
    assert D(figures["equity"]) - D(figures["investment"]) == D(figures["total_pnl"])
    assert isinstance(figures["fees"], str)

    fills = all_fills(client, backtest_id)
    assert [(f["side"], D(f["price"]), D(f["quantity"]), D(f["fee"])) for f in fills] == [
        (f.side.value, f.price, f.quantity, f.fee) for f in expected.fills
    ]
    assert fills[0]["interval"] is None  # the start trade
    assert all(isinstance(f["price"], str) for f in fills)

    listed = client.get("/api/v1/backtests/").json()["results"]
    assert [item["id"] for item in listed] == [backtest_id]
    assert "equity" not in listed[0]


def test_a_config_copied_from_a_bot_with_account_and_name_is_accepted(trader, bybit_week) -> None:
    response = post(bearer(trader), config={**CONFIG, "account": 7, "name": "BTC grid", "symbol": "btcusdt"})
    assert response.status_code == 202, response.content


def test_another_traders_backtest_is_a_404(trader, bybit_week) -> None:
    backtest_id = post(bearer(trader)).json()["id"]
    tasks.run_backtest(backtest_id)
    stranger = bearer(make_user(email="stranger@example.com"))

    for url in (f"/api/v1/backtests/{backtest_id}/", f"/api/v1/backtests/{backtest_id}/fills/"):
        response = stranger.get(url)
        assert response.status_code == 404
        assert error_of(response)["code"] == "not_found"
    assert stranger.post(f"/api/v1/backtests/{backtest_id}/cancel/").status_code == 404
    assert stranger.get("/api/v1/backtests/").json()["results"] == []
    assert Backtest.objects.get(pk=backtest_id).status == BacktestStatus.DONE


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"end": "2023-01-02T00:00:00Z"}, "end", "before it starts"),
        ({"end": "2023-01-03T00:00:00Z"}, "end", "before it starts"),
        ({"start": "2023-01-03T00:01:00Z", "end": "2023-01-03T00:04:00Z"}, "end", "no whole 5m candle"),
        ({"end": "2099-01-01T00:00:00Z"}, "end", "future"),
        ({"symbol": "ETHUSDT"}, "symbol", "No ETHUSDT 5m candles"),
        ({"interval": "1h"}, "symbol", "No BTCUSDT 1h candles"),
        ({"symbol": "DOGEUSDT"}, "symbol", "Backtests cover"),
        ({"interval": "7m"}, "interval", ""),
        ({"strategy": "martingale"}, "strategy", ""),
        ({"config": {**CONFIG, "grid_count": 5000}}, "config.grid_count", ""),
        ({"config": {**CONFIG, "lower_price": "18000"}}, "config.upper_price", "above the lower"),
        ({"config": {**CONFIG, "investment": "1"}}, "config.investment", ""),
        ({"config": {**CONFIG, "stop_loss_price": "15000"}}, "config.stop_loss_price", "not simulate"),
        ({"config": {**CONFIG, "symbol": "ETHUSDT"}}, "config.symbol", "ETHUSDT"),
        ({"config": {**CONFIG, "investment": "1_000"}}, "config.investment", ""),
    ],
)
def test_bad_requests_are_400s_naming_the_field(trader, bybit_week, changes, field, words) -> None:
    response = post(bearer(trader), **changes)
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert field in error["fields"], error
    assert words in " ".join(error["fields"][field])
    assert not Backtest.objects.exists()


def test_windows_over_the_cap_are_refused_with_the_numbers(trader, bybit_week, settings) -> None:
    settings.BACKTEST_MAX_CANDLES = 2015
    response = post(bearer(trader))
    assert response.status_code == 400
    message = error_of(response)["fields"]["end"][0]
    assert "2,016 5m candles" in message
    assert "at most 2,015" in message
    settings.BACKTEST_MAX_CANDLES = 2016
    assert post(bearer(trader)).status_code == 202


def test_the_default_cap_refuses_years_of_minutes_before_reading_anything(trader, bybit_week) -> None:
    response = post(bearer(trader), interval="1m", start="2020-01-01T00:00:00Z", end="2023-01-01T00:00:00Z")
    assert response.status_code == 400
    assert "at most 600,000" in error_of(response)["fields"]["end"][0]


def test_a_read_only_token_cannot_run_a_backtest(trader, bybit_week) -> None:
    response = post(bearer(trader, "read"))
    assert response.status_code == 403
    assert Backtest.objects.count() == 0
    assert bearer(trader, "read").get("/api/v1/backtests/").status_code == 200


def test_a_cancelled_backtest_never_runs(trader, bybit_week) -> None:
    client = bearer(trader)
    backtest_id = post(client).json()["id"]
    response = client.post(f"/api/v1/backtests/{backtest_id}/cancel/")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"
    assert client.post(f"/api/v1/backtests/{backtest_id}/cancel/").json()["status"] == "cancelled"

    tasks.run_backtest(backtest_id)

    backtest = Backtest.objects.get(pk=backtest_id)
    assert backtest.status == BacktestStatus.CANCELLED
    assert backtest.metrics is None
    assert not BacktestFill.objects.exists()


def test_a_run_cancelled_midway_stops_and_keeps_nothing(trader, bybit_week, monkeypatch) -> None:
    client = bearer(trader)
    backtest_id = post(client).json()["id"]
    steps: list[int] = []
    real_step = backtest_run._step

    def cancel_at_half(backtest: Backtest, done: int, total: int, *rest: Any) -> None:
        steps.append(done)
        if done >= total // 2:
            client.post(f"/api/v1/backtests/{backtest_id}/cancel/")
        real_step(backtest, done, total, *rest)

    monkeypatch.setattr(backtest_run, "_step", cancel_at_half)
    tasks.run_backtest(backtest_id)

    backtest = Backtest.objects.get(pk=backtest_id)
    assert backtest.status == BacktestStatus.CANCELLED
    assert 5 < backtest.progress < 95  # it had moved before the cancel
    assert steps[-1] < len(bybit_week) - 1  # the walk stopped early
    assert not BacktestFill.objects.exists()
    assert backtest.metrics is None


def test_a_finished_backtest_cannot_be_cancelled(trader, bybit_week) -> None:
    client = bearer(trader)
    backtest_id = post(client).json()["id"]
    tasks.run_backtest(backtest_id)
    response = client.post(f"/api/v1/backtests/{backtest_id}/cancel/")
    assert response.status_code == 409
    assert error_of(response)["code"] == "backtest_finished"
    assert Backtest.objects.get(pk=backtest_id).status == BacktestStatus.DONE


def test_a_message_delivered_twice_runs_once(trader, bybit_week) -> None:
    backtest_id = post(bearer(trader)).json()["id"]
    tasks.run_backtest(backtest_id)
    fills = BacktestFill.objects.count()
    tasks.run_backtest(backtest_id)
    assert BacktestFill.objects.count() == fills > 0


def test_failures_are_stored_with_a_readable_reason(trader, bybit_week) -> None:
    client = bearer(trader)
    backtest_id = post(client).json()["id"]
    StoredCandle.objects.all().delete()  # the candles went away between the request and the run

    tasks.run_backtest(backtest_id)

    body = client.get(f"/api/v1/backtests/{backtest_id}/").json()
    assert body["status"] == "failed"
    assert "No BTCUSDT 5m candles are stored in the window" in body["error"]
    assert body["finished_at"]


def test_a_strategy_refusal_at_run_time_is_stored_in_its_words(trader, bybit_week, monkeypatch) -> None:
    # e.g. a triggered grid that starts at a price where the investment no longer covers it
    client = bearer(trader)
    backtest_id = post(client).json()["id"]
    words = "The investment is below the 36.5 USDT this grid needs at 17,250."

    def refused(*args: Any, **kwargs: Any) -> None:
        raise GridConfigError({"investment": [words]})

    monkeypatch.setattr(backtest_run.exact, "run", refused)
    tasks.run_backtest(backtest_id)

    body = client.get(f"/api/v1/backtests/{backtest_id}/").json()
    assert (body["status"], body["error"]) == ("failed", words)


def test_an_internal_error_is_stored_and_logged(trader, bybit_week, monkeypatch, caplog) -> None:
    client = bearer(trader)
    backtest_id = post(client).json()["id"]

    def broken(*args: Any, **kwargs: Any) -> None:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(backtest_run.exact, "run", broken)
    tasks.run_backtest(backtest_id)

    body = client.get(f"/api/v1/backtests/{backtest_id}/").json()
    assert body["status"] == "failed"
    assert "internal error" in body["error"]
    assert "boom" not in body["error"]
    assert "Backtest" in caplog.text


def test_a_run_whose_worker_died_is_queued_again_and_finishes(trader, bybit_week, queued) -> None:
    backtest_id = post(bearer(trader)).json()["id"]
    assert backtest_run.claim(backtest_id) is not None  # a worker took it, then died
    now = Backtest.objects.get(pk=backtest_id).heartbeat_at
    assert now is not None
    assert tasks.requeue_stale_backtests() == 0  # still beating recently

    Backtest.objects.filter(pk=backtest_id).update(heartbeat_at=now - timedelta(minutes=6))
    assert tasks.requeue_stale_backtests() == 1
    assert queued == [backtest_id]
    tasks.run_backtest(backtest_id)
    assert Backtest.objects.get(pk=backtest_id).status == BacktestStatus.DONE


def test_backtests_run_on_the_routine_queue() -> None:
    from bots.tests.test_webhook_queue import resolved_queue

    assert resolved_queue(tasks.run_backtest.name) == "celery"
    assert resolved_queue(tasks.requeue_stale_backtests.name) == "celery"


def test_a_retried_request_with_its_idempotency_key_queues_one_backtest(trader, bybit_week) -> None:
    client = bearer(trader)
    first = client.post("/api/v1/backtests/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="bt-1")
    again = client.post("/api/v1/backtests/", BODY, format="json", HTTP_IDEMPOTENCY_KEY="bt-1")
    assert (first.status_code, again.status_code) == (202, 202)
    assert first.json()["id"] == again.json()["id"]
    assert Backtest.objects.count() == 1


def test_progress_is_reported_each_hundredth_and_changes_nothing(bybit_week) -> None:
    reports: list[tuple[int, int]] = []
    grid = codec.config_from_json({**CONFIG, "symbol": "BTCUSDT"})
    with_progress = exact.run(
        grid, INSTRUMENTS["BTCUSDT"], bybit_week, progress=lambda done, total: reports.append((done, total))
    )
    assert reports[0] == (0, 2016)
    assert [done for done, _ in reports] == list(range(0, 2016, 20))
    assert with_progress == direct_run(bybit_week)


def test_the_venue_with_more_candles_in_the_window_is_read(trader, db) -> None:
    week = shipped_window()
    store.save_candles(store.Series("bybit", "BTCUSDT", "5m"), week[: len(week) // 2])
    store.save_candles(store.Series(files.REPLAY_VENUE, "BTCUSDT", "5m"), week)
    client = bearer(trader)
    backtest_id = post(client).json()["id"]
    assert Backtest.objects.get(pk=backtest_id).venue == files.REPLAY_VENUE
    tasks.run_backtest(backtest_id)
    body = client.get(f"/api/v1/backtests/{backtest_id}/").json()
    assert (body["candles"], body["candles_missing"]) == (len(week), 0)

    store.save_candles(store.Series("bybit", "BTCUSDT", "5m"), week)  # a tie: Bybit's own
    assert Backtest.objects.get(pk=post(client).json()["id"]).venue == "bybit"


def test_a_window_with_a_hole_runs_and_says_how_many_candles_were_missing(trader, db) -> None:
    week = shipped_window()
    store.save_candles(store.Series("bybit", "BTCUSDT", "5m"), week[:1000] + week[1100:])
    client = bearer(trader)
    backtest_id = post(client).json()["id"]
    tasks.run_backtest(backtest_id)
    body = client.get(f"/api/v1/backtests/{backtest_id}/").json()
    assert (body["status"], body["candles"], body["candles_missing"]) == ("done", 1916, 100)


def test_a_trigger_never_reached_leaves_the_investment_untouched(trader, bybit_week) -> None:
    client = bearer(trader)
    backtest_id = post(client, config={**CONFIG, "trigger_price": "16450"}).json()["id"]
    tasks.run_backtest(backtest_id)
    body = client.get(f"/api/v1/backtests/{backtest_id}/").json()
    assert body["status"] == "done", body["error"]
    figures = body["metrics"]
    assert (figures["started_at"], figures["start_price"], figures["fills"]) == (None, None, 0)
    assert (figures["total_pnl"], figures["equity"]) == ("0", "1000")


def test_beat_looks_for_stale_backtests_every_minute(settings) -> None:
    from config.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["requeue-stale-backtests"]
    assert entry["task"] == tasks.requeue_stale_backtests.name
    assert entry["task"] in app.tasks
    assert entry["schedule"] == 60.0
