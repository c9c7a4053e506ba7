"""A trader keeps a backtest's page open while a worker runs it: the progress bar moves over the
live socket and the results, charts included, swap in without a reload."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from accounts.models import User
from bots.backtests import run as backtest_run
from bots.backtests import tasks
from bots.backtests.models import Backtest
from bots.tests.asgi import WATCH_SOCKET, AsgiServer, in_worker, wait_for_socket
from bots.tests.test_backtest_pages import FORM

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_the_progress_moves_and_the_results_swap_in_without_a_reload(
    live_server_asgi: AsgiServer, browser, artifacts: Path, trader: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    from playwright.sync_api import expect

    monkeypatch.setattr(tasks.run_backtest, "delay", lambda pk: None)
    real_step = backtest_run._step

    def slow_step(*args: Any) -> None:
        time.sleep(0.03)  # as a long window would: seconds of walking
        real_step(*args)

    monkeypatch.setattr(backtest_run, "_step", slow_step)
    session = Client()
    session.force_login(trader)
    assert session.post("/backtests/", FORM).status_code == 302
    backtest = Backtest.objects.get(owner=trader)
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    cookie = session.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server_asgi.url}]
    )
    context.add_init_script(WATCH_SOCKET)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    page.goto(f"{live_server_asgi.url}/backtests/{backtest.pk}/")
    wait_for_socket(page)
    page.evaluate("window.__samePage = true")
    expect(page.locator("#backtest-progress-text")).to_have_text("Waiting for a worker")

    worker = threading.Thread(target=lambda: in_worker(lambda: tasks.run_backtest(backtest.pk)))
    worker.start()
    progress = page.locator("#backtest-progress-text")
    expect(progress).to_contain_text("of 2,016 candles", timeout=10_000)
    shown = progress.inner_text()
    assert shown.split("%")[0].isdigit(), shown
    page.screenshot(path=artifacts / "backtest-live-running-1280.png", full_page=True)
    worker.join(60)
    page.wait_for_function("document.querySelectorAll('#backtest-equity-chart canvas').length > 0")
    page.screenshot(path=artifacts / "backtest-live-done-1280.png", full_page=True)
    assert page.evaluate("window.__samePage === true"), "the results came over the socket, not a reload"
    assert page.locator("progress").count() == 0
    assert page.locator("[data-metric]").count() > 0
    context.close()
    assert errors == []
