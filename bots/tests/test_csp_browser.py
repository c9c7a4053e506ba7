"""The main pages under the Content-Security-Policy, enforced: nothing they do is refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client

from bots.models import Bot
from config.tests.csp import WATCH_VIOLATIONS

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_the_main_pages_break_no_rule_of_the_policy(
    live_server, browser, artifacts: Path, paper_bot: Bot, viewport
) -> None:
    session = Client()
    session.force_login(paper_bot.owner)
    context = browser.new_context(viewport=viewport, bypass_csp=False)
    cookie = session.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}])
    context.add_init_script(WATCH_VIOLATIONS)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    found: dict[str, list[str]] = {}

    for path in (
        "/",
        "/bots/new/",
        f"/bots/{paper_bot.pk}/",
        "/trades/",
        "/exchange-accounts/",
        "/account/",
        "/account/security/",
        "/account/security/2fa/setup/",
        "/account/api-tokens/",
        "/account/webhooks/",
        "/account/notifications/",
        "/notifications/",
        "/accounts/email/",
    ):
        response = page.goto(f"{live_server.url}{path}")
        assert response is not None
        assert "default-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_load_state("load")
        page.wait_for_timeout(400)  # charts and fragments load after the page
        found[path] = page.evaluate("window.__cspViolations")
    # A fragment swapped in by htmx, and the wizard's preview redrawn, under the same rules.
    page.goto(f"{live_server.url}/trades/")
    page.get_by_label("Side").select_option("buy")
    page.wait_for_timeout(400)
    found["/trades/ (filtered)"] = page.evaluate("window.__cspViolations")
    page.screenshot(path=artifacts / f"csp-trades-{viewport['width']}.png", full_page=True)
    context.close()

    assert {path: seen for path, seen in found.items() if seen} == {}
    assert errors == []
