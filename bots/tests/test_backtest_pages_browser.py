"""The backtest pages in a browser at desktop and phone widths, under the enforced policy: the form
queues a run, the progress follows it to its results, and every figure equals the API's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client

from accounts.tests.api import bearer
from bots.backtests import tasks
from bots.backtests.models import Backtest
from bots.tests.conftest import paper_account_for
from bots.views.backtests import FIGURES, formatted
from config.tests.csp import WATCH_VIOLATIONS
from exchanges.paper.instruments import INSTRUMENTS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


def metric(body: dict[str, Any], key: str) -> Any:
    value: Any = body
    for part in key.split("."):
        value = value[part]
    return value


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_backtest_from_form_to_results_shows_the_apis_figures(
    live_server, browser, artifacts: Path, trader, monkeypatch: pytest.MonkeyPatch, viewport
) -> None:
    paper_account_for(trader)
    queued: list[int] = []
    monkeypatch.setattr(tasks.run_backtest, "delay", queued.append)
    session = Client()
    session.force_login(trader)
    context = browser.new_context(viewport=viewport, bypass_csp=False)
    cookie = session.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    context.add_init_script(WATCH_VIOLATIONS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    width = viewport["width"]

    page.goto(f"{live_server.url}/backtests/")
    page.get_by_label("Candles").select_option("5m")
    page.get_by_label("From (UTC)").fill("2023-01-03")
    page.get_by_label("Until (UTC)").fill("2023-01-10")
    page.get_by_label("Lower price").fill("16400")
    page.get_by_label("Upper price").fill("16000")
    page.get_by_label("Investment").fill("1000")
    page.get_by_role("button", name="Run backtest").click()
    page.wait_for_load_state("load")
    assert "must be above the lower price" in page.locator("#errors-upper_price").inner_text()
    page.screenshot(path=artifacts / f"backtest-form-error-{width}.png", full_page=True)
    assert not Backtest.objects.exists()

    page.get_by_label("Upper price").fill("17400")
    page.get_by_role("button", name="Run backtest").click()
    page.wait_for_url("**/backtests/*/")
    backtest = Backtest.objects.get()
    assert queued == [backtest.pk]
    assert "Queued" in page.locator("#backtest-status").inner_text()
    page.screenshot(path=artifacts / f"backtest-queued-{width}.png", full_page=True)

    tasks.run_backtest(backtest.pk)  # the worker; the page's polling sees it end and reloads
    page.wait_for_selector("#backtest-equity-chart canvas", timeout=10_000)
    page.wait_for_timeout(500)
    page.screenshot(path=artifacts / f"backtest-results-{width}.png", full_page=True)

    api = bearer(trader).get(f"/api/v1/backtests/{backtest.pk}/").json()
    assert api["status"] == "done"
    step = INSTRUMENTS["BTCUSDT"].tick_size
    shown = {
        card.get_attribute("data-metric"): card.locator(".stat-value").inner_text()
        for card in page.locator("[data-metric]").all()
    }
    assert shown == {f.key: formatted(f, metric(api["metrics"], f.key), step) for f in FIGURES}
    assert page.locator("#backtest-equity-chart").get_attribute("data-points") == str(len(api["equity"]))
    assert page.locator("#backtest-price-chart").get_attribute("data-markers") == str(api["metrics"]["fills"])
    assert page.locator("#backtest-fills tbody tr").count() == min(api["metrics"]["fills"], 100)
    # Nothing runs off a phone's screen.
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    # A second run, then the two side by side.
    page.goto(f"{live_server.url}/backtests/")
    page.get_by_label("Candles").select_option("5m")
    page.get_by_label("From (UTC)").fill("2023-01-03")
    page.get_by_label("Until (UTC)").fill("2023-01-10")
    page.get_by_label("Lower price").fill("16400")
    page.get_by_label("Upper price").fill("17400")
    page.get_by_label("Grids").fill("20")
    page.get_by_label("Investment").fill("1000")
    page.get_by_role("button", name="Run backtest").click()
    page.wait_for_url("**/backtests/*/")
    second = Backtest.objects.latest("pk")
    tasks.run_backtest(second.pk)
    page.goto(f"{live_server.url}/backtests/")
    page.get_by_label(f"Compare backtest {backtest.pk}").check()
    page.get_by_label(f"Compare backtest {second.pk}").check()
    page.screenshot(path=artifacts / f"backtest-list-{width}.png", full_page=True)
    page.get_by_role("button", name="Compare selected").click()
    page.wait_for_url("**/backtests/compare/**")
    page.screenshot(path=artifacts / f"backtest-compare-{width}.png", full_page=True)
    ids = [int(x) for x in page.url.split("?")[1].replace("ids=", "").split("&")]
    bodies = [bearer(trader).get(f"/api/v1/backtests/{pk}/").json() for pk in ids]
    for figure in FIGURES:
        cells = page.locator(f'tr[data-metric="{figure.key}"] td').all_inner_texts()
        assert cells == [formatted(figure, metric(body["metrics"], figure.key), step) for body in bodies]

    page.goto(f"{live_server.url}/backtests/{backtest.pk}/")
    page.get_by_role("link", name="Create a bot from this backtest").click()
    page.wait_for_url("**/bots/new/**")
    assert page.get_by_label("Lower price").input_value() == "16400"
    assert page.get_by_label("Upper price").input_value() == "17400"
    assert page.get_by_label("Investment").input_value() == "1000"
    violations = page.evaluate("window.__cspViolations")
    context.close()
    assert errors == []
    assert violations == []
