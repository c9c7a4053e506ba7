"""A running backtest's and optimisation's progress over the real ASGI stack and the real Redis
channel layer: the run's owner sees the progress bar move and the results swap in; nobody else
hears of it; a fast run's events are throttled."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.db import connection

from accounts.tests.api import bearer
from accounts.tests.factories import make_user
from bots.backtests import live, tasks
from bots.backtests import run as backtest_run
from bots.backtests.models import Backtest, Optimisation
from bots.tests.test_api_backtests import BODY as BACKTEST_BODY
from bots.tests.test_api_backtests import shipped_window
from bots.tests.test_api_optimise import BODY as OPTIMISE_BODY
from bots.tests.test_consumers import WAIT, closed_with, run, session_for, socket, whatever_follows
from bots.views.backtests import FIGURES, formatted
from exchanges.market_data import store
from exchanges.paper.instruments import INSTRUMENTS

pytestmark = pytest.mark.django_db(transaction=True)

PROGRESS = re.compile(r"(\d+)% · ([\d,]+) of ([\d,]+) (candles|grids tried)")


@pytest.fixture
def stored_week(db: None) -> None:
    store.save_candles(store.Series("bybit", "BTCUSDT", "5m"), shipped_window())


async def in_worker_thread(work: Callable[[], None]) -> None:
    """As a Celery worker: a thread of its own, not the one the sockets render their pages on."""

    def run_and_close() -> None:
        try:
            work()
        finally:
            connection.close()

    await sync_to_async(run_and_close, thread_sensitive=False)()


def metric(body: dict[str, Any], key: str) -> Any:
    for part in key.split("."):
        body = body[part]
    return body


def test_a_backtests_page_watches_it_run_and_receives_its_results(
    trader,
    stored_week: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tasks.run_backtest, "delay", lambda pk: None)
    real_step = backtest_run._step

    def slow_step(*args: Any) -> None:
        # As a long window would: the walk takes seconds, so the page renders it step by step.
        time.sleep(0.02)
        real_step(*args)

    monkeypatch.setattr(backtest_run, "_step", slow_step)
    client = bearer(trader)
    backtest_id = client.post("/api/v1/backtests/", BACKTEST_BODY, format="json").json()["id"]
    outsider_user = make_user(email="outsider@example.com")
    theirs = bearer(outsider_user).post("/api/v1/backtests/", BACKTEST_BODY, format="json").json()["id"]
    owner, outsider = session_for(trader), session_for(outsider_user)
    received: list[str] = []

    async def scenario() -> None:
        assert await closed_with(socket(f"/ws/backtests/{backtest_id}/", outsider)) == 4404
        assert await closed_with(socket(f"/ws/backtests/{backtest_id}/")) == 4401
        page = socket(f"/ws/backtests/{backtest_id}/", owner)
        strangers_page = socket(f"/ws/backtests/{theirs}/", outsider)
        for communicator in (page, strangers_page):
            assert (await communicator.connect())[0]
        catch_up = await page.receive_from(WAIT)
        assert 'id="backtest-status"' in catch_up
        assert 'hx-swap-oob="true"' in catch_up
        assert "Waiting for a worker" in catch_up
        await strangers_page.receive_from(WAIT)

        await in_worker_thread(lambda: tasks.run_backtest(backtest_id))

        while 'id="backtest-results"' not in (received[-1] if received else ""):
            received.append(await page.receive_from(WAIT))
        received.extend(await whatever_follows(page))
        assert await strangers_page.receive_nothing(0.2)
        for communicator in (page, strangers_page):
            await communicator.disconnect()

    run(scenario)
    backtest = Backtest.objects.get(pk=backtest_id)
    steps = [PROGRESS.search(message) for message in received]
    moving = [match for match in steps if match]
    assert moving, "the progress bar moved while it ran"
    assert all(match.group(3) == f"{backtest.candles:,}" for match in moving)
    percents = [int(match.group(1)) for match in moving]
    assert percents == sorted(percents)
    assert percents[-1] < 100
    assert all(f'<progress max="100" value="{p}"' in m for p, m in zip(percents, received, strict=False))
    # The walk reports each hundredth; the throttle lets about one event per 5% through.
    assert len(received) <= 100 // live.PUBLISH_EVERY_PERCENT + 3
    final = received[-1]
    assert "Done: " in final
    assert "<progress" not in final
    api = bearer(trader).get(f"/api/v1/backtests/{backtest_id}/").json()
    for figure in FIGURES:
        expected = formatted(figure, metric(api["metrics"], figure.key), INSTRUMENTS["BTCUSDT"].tick_size)
        assert f'data-metric="{figure.key}"' in final
        assert expected in final
    assert 'id="backtest-chart-data"' in final


def test_an_optimisations_page_watches_its_chunks_and_receives_the_ranking(
    trader,
    stored_week: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chunks: list[tuple[int, int]] = []
    monkeypatch.setattr(tasks.optimise_backtest, "delay", lambda pk: None)
    monkeypatch.setattr(tasks.optimise_backtest_chunk, "delay", lambda *args: chunks.append(args))
    optimisation_id = (
        bearer(trader).post("/api/v1/backtests/optimize/", OPTIMISE_BODY, format="json").json()["id"]
    )
    received: list[str] = []
    owner = session_for(trader)

    def work() -> None:
        tasks.optimise_backtest(optimisation_id)
        for args in list(chunks):
            tasks.optimise_backtest_chunk(*args)

    async def scenario() -> None:
        page = socket(f"/ws/optimisations/{optimisation_id}/", owner)
        assert (await page.connect())[0]
        assert "Waiting for a worker" in await page.receive_from(WAIT)
        await in_worker_thread(work)
        while 'id="optimisation-results"' not in (received[-1] if received else ""):
            received.append(await page.receive_from(WAIT))
        await page.disconnect()

    run(scenario)
    optimisation = Optimisation.objects.get(pk=optimisation_id)
    assert optimisation.chunks > 1
    tried = [PROGRESS.search(message) for message in received]
    counts = [int(match.group(2).replace(",", "")) for match in tried if match]
    assert counts
    assert counts == sorted(counts)
    assert all(match.group(3) == f"{optimisation.candidates:,}" for match in tried if match)
    final = received[-1]
    api = bearer(trader).get(f"/api/v1/backtests/optimize/{optimisation_id}/").json()
    assert api["status"] == "done"
    assert final.count("<tr data-candidate=") == len(api["results"]["ranked"])
    assert f"Done: {api['evaluated']:,} grids scored" in final


def test_the_throttle_lets_through_the_first_step_then_one_per_interval_or_step() -> None:
    now = [0.0]
    throttle = live.Throttle(clock=lambda: now[0])
    assert throttle.due(5)
    assert not throttle.due(6)  # too soon and too small
    now[0] += live.PUBLISH_EVERY_SECONDS
    assert throttle.due(7)  # long enough
    assert throttle.due(7 + live.PUBLISH_EVERY_PERCENT)  # far enough, at once
    assert not throttle.due(13)
