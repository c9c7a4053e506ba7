"""The site's icon: linked from every page, and /favicon.ico answers rather than logging a 404."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client

from accounts.tests.factories import make_user

DESKTOP = {"width": 1280, "height": 860}


def test_favicon_ico_leads_to_the_svg_icon(db: None) -> None:
    client = Client()

    response = client.get("/favicon.ico")
    icon = client.get(response["Location"])

    assert response.status_code == 301
    assert response["Location"].endswith("favicon.svg")
    assert icon.status_code == 200
    assert icon["Content-Type"].startswith("image/svg+xml")
    assert b"<svg" in b"".join(icon.streaming_content)  # type: ignore[attr-defined]


def test_every_page_links_the_icon(db: None) -> None:
    visitor, trader = Client(), Client()
    trader.force_login(make_user(email="icon@example.com"))

    pages = [(visitor, "/"), (visitor, "/accounts/login/"), (trader, "/"), (trader, "/trades/")]
    for client, url in pages:
        html = client.get(url).content.decode()
        assert 'rel="icon" href="/static/favicon.svg"' in html, url


@pytest.mark.browser
@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_the_browser_finds_the_icon_and_no_request_is_a_404(live_server, browser, artifacts: Path) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    missing: list[str] = []
    page.on("response", lambda response: missing.append(response.url) if response.status == 404 else None)

    page.goto(f"{live_server.url}/accounts/login/")
    icon = page.evaluate("document.querySelector('link[rel=icon]').href")
    ico = page.request.get(f"{live_server.url}/favicon.ico")
    direct = context.new_page()
    direct.goto(f"{live_server.url}/favicon.ico")
    direct.screenshot(path=artifacts / "favicon.png")
    context.close()

    assert icon.endswith("/static/favicon.svg")
    assert ico.ok
    assert ico.headers["content-type"].startswith("image/svg+xml")
    assert missing == []
