"""A DCA backtest in a browser under the enforced policy: choosing DCA swaps the form in place
(what was typed stays), the form queues the run, and its page shows the deals block."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from bots.backtests import tasks
from bots.backtests.models import Backtest
from config.tests.csp import WATCH_VIOLATIONS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_dca_backtest_from_the_form_to_its_deals(
    live_server, browser, artifacts: Path, trader, monkeypatch: pytest.MonkeyPatch
) -> None:
    queued: list[int] = []
    monkeypatch.setattr(tasks.run_backtest, "delay", queued.append)
    session = Client()
    session.force_login(trader)
    context = browser.new_context(viewport={"width": 1280, "height": 860}, bypass_csp=False)
    cookie = session.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    context.add_init_script(WATCH_VIOLATIONS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))

    page.goto(f"{live_server.url}/backtests/")
    page.get_by_label("Candles").select_option("5m")
    page.get_by_label("From (UTC)").fill("2023-01-03")
    page.get_by_label("Until (UTC)").fill("2023-01-04")
    page.get_by_role("link", name="DCA", exact=True).click()
    page.get_by_label("Base order size").wait_for()
    assert page.url.endswith("/backtests/")  # swapped in place by htmx, not followed
    assert page.get_by_label("From (UTC)").input_value() == "2023-01-03"  # what was typed stays
    assert page.get_by_label("Candles").input_value() == "5m"
    page.get_by_label("Base order size").fill("100")
    page.get_by_label("Safety order size").fill("50")
    page.get_by_label("Price deviation (%)").fill("0.1")
    page.get_by_label("Max safety orders", exact=True).fill("3")
    page.get_by_label("Take profit (%)").fill("0.2")
    page.screenshot(path=artifacts / "backtest-dca-form.png", full_page=True)
    page.get_by_role("button", name="Run backtest").click()
    page.wait_for_url("**/backtests/*/")
    backtest = Backtest.objects.get()
    assert backtest.strategy == "dca"
    assert queued == [backtest.pk]

    tasks.run_backtest(backtest.pk)
    page.wait_for_selector("#backtest-deals", timeout=10_000)
    page.wait_for_timeout(500)
    page.screenshot(path=artifacts / "backtest-dca-results.png", full_page=True)
    deals = page.locator("#backtest-deals").inner_text()
    for label in ("Deals closed", "Average deal duration", "Longest deal", "Deal still open"):
        assert label in deals
    assert "3 h 15 min" in deals
    assert errors == []
    assert page.evaluate("window.__cspViolations || []") == []
