"""The bot chart a trader reads at a glance, on a desktop and on a phone: the whole range in
view, orders and fills marked, grid levels dashed, labels that never stack, candles spread
across the width. Checked in the real browser through the chart's own report
(`#bot-chart[data-view]`), with screenshots saved under test-artifacts/."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from itertools import pairwise
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from accounts.tests.factories import make_user
from bots import actions
from bots.models import Bot
from bots.strategies.grid import GridConfig
from bots.tests.asgi import WATCH_SOCKET, AsgiServer, in_worker, wait_for_socket
from bots.tests.conftest import paper_account_for
from bots.tests.test_engine import started, tick
from exchanges.paper import market
from exchanges.tasks import advance_paper_markets
from trading.models import LIVE_STATUSES

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

D = Decimal
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}


def _bot(lower: str, upper: str, grids: int, **exits: Decimal) -> Bot:
    owner = make_user(email="charts@example.com")
    account = paper_account_for(owner, usdt="100000")
    config = GridConfig(
        symbol="BTCUSDT",
        lower_price=D(lower),
        upper_price=D(upper),
        grid_count=grids,
        investment=D("5000"),
        **exits,  # type: ignore[arg-type]
    )
    price = actions.check_bot_config(account, config)
    return started(actions.do_create_bot(owner, account, "Chart grid", config, price))


def few_candles() -> Bot:
    """A market set by hand a few minutes ago: four candles, the price mid-range."""
    now = timezone.now()
    for minutes, price in [(12, "54200"), (7, "53800"), (2, "54100")]:
        market.set_price("BTCUSDT", D(price), at=now - timedelta(minutes=minutes))
    market.set_price("BTCUSDT", D("54000"))
    bot = _bot("45000", "65000", 5)
    market.set_price("BTCUSDT", D("52900"))  # fills the 53,000 buy
    return tick(bot)


def many_candles(where: str) -> Callable[[], Bot]:
    """The replayed market a minute after install (150 five-minute candles of history) and a
    40-grid bot with the price mid-range (and a take-profit and stop-loss beside the bounds),
    or near its upper or lower bound; then a dozen feed steps that it trades."""

    def build() -> Bot:
        for _ in range(30):
            advance_paper_markets()
        price = market.last_price("BTCUSDT")
        low, high = {
            "inside": ("0.97", "1.03"),
            "near-upper": ("0.93", "1.006"),
            "near-lower": ("0.994", "1.07"),
        }[where]
        lower, upper = (price * D(low)).quantize(D("1")), (price * D(high)).quantize(D("1"))
        exits = {}
        if where == "inside":
            exits = {
                "take_profit_price": upper * D("1.01"),
                "stop_loss_price": (lower * D("0.99")).quantize(D("1")),
            }
        bot = _bot(str(lower), str(upper), 40, **exits)
        for _ in range(12):
            advance_paper_markets()
            tick(bot)
        return bot

    return build


def view_of(page: Any) -> dict[str, Any]:
    page.wait_for_function(
        "document.getElementById('bot-chart').dataset.view !== undefined"
        " && JSON.parse(document.getElementById('bot-chart').dataset.view).candles > 0"
    )
    page.wait_for_timeout(300)  # autoSize settles
    return json.loads(page.locator("#bot-chart").get_attribute("data-view"))


def _open(browser: Any, server: AsgiServer, bot: Bot, viewport: dict[str, int]) -> Any:
    session = Client()
    session.force_login(bot.owner)
    context = browser.new_context(viewport=viewport)
    cookie = session.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies([{"name": settings.SESSION_COOKIE_NAME, "value": cookie, "url": server.url}])
    context.add_init_script(WATCH_SOCKET)
    page = context.new_page()
    page.goto(f"{server.url}/bots/{bot.pk}/")
    return page


SCENARIOS: dict[str, Callable[[], Bot]] = {
    "few-candles": few_candles,
    "many-candles": many_candles("inside"),
    "near-upper": many_candles("near-upper"),
    "near-lower": many_candles("near-lower"),
}
LABEL_HEIGHT = 20  # px: an axis label's height in lightweight-charts' default font
MIN_BAR_SPACING, MAX_BAR_SPACING = 4, 24
LARGE_DASHED = 3  # LineStyle.LargeDashed: 6 px dashes and gaps

# The pixels of one row of the chart as drawn (its own screenshot canvas, device pixels): how
# many separate runs of drawn pixels it has, and what share of the row is drawn.
DASH_RUNS = """([selector, y, width]) => {
  const canvas = document.querySelector(selector).chartScreenshot();
  const ratio = window.devicePixelRatio || 1;
  const context = canvas.getContext('2d');
  let best = {runs: 0, drawn: 0};
  for (const row of [Math.round(y * ratio) - 1, Math.round(y * ratio), Math.round(y * ratio) + 1]) {
    const pixels = context.getImageData(0, row, Math.floor(width * ratio), 1).data;
    let runs = 0, drawn = 0, before = false;
    for (let i = 3; i < pixels.length; i += 4) {
      const on = pixels[i] > 0;
      if (on) drawn += 1;
      if (on && !before) runs += 1;
      before = on;
    }
    if (drawn > best.drawn) best = {runs, drawn};
  }
  return {runs: best.runs, drawn: best.drawn / Math.floor(width * ratio)};
}"""


def assert_grid_readable(page: Any, chart: str, view: dict[str, Any], lower: Decimal, upper: Decimal) -> None:
    """What any chart of a grid must show (grid_chart.js); `chart` selects the chart's element."""
    height, width = view["height"], view["width"]
    # The whole range is in view, its top and bottom levels clear of the edges.
    assert (view["lower"], view["upper"]) == (float(lower), float(upper))
    assert view["lowerInView"], view["visible"]
    assert view["upperInView"], view["visible"]
    for level in view["levels"]:
        assert LABEL_HEIGHT / 2 <= level["y"] <= height - LABEL_HEIGHT / 2, level
    # Every level is one truly dashed line with no axis label of its own.
    assert {(level["style"], level["width"], level["label"]) for level in view["levels"]} == {
        (LARGE_DASHED, 1, False)
    }
    price_y = next(label["y"] for label in view["labels"] if label["text"] == "Price")
    for level in view["levels"]:
        if abs(level["y"] - price_y) < 3:
            continue  # the current price's solid line runs along it
        pixels = page.evaluate(DASH_RUNS, [chart, level["y"], width])
        assert pixels["runs"] >= width / 20, f"level {level['price']} is not dashed: {pixels}"
        assert 0.3 <= pixels["drawn"] <= 0.75, f"level {level['price']} is not dashed: {pixels}"
    # Labels: the price, the bounds, TP and SL only, and no two on top of each other.
    texts = [label["text"] for label in view["labels"]]
    assert texts[0] == "Price"
    assert set(texts) <= {"Price", "Lower", "Upper", "TP", "SL"}
    ys = sorted(label["y"] for label in view["labels"])
    assert all(b - a >= LABEL_HEIGHT for a, b in pairwise(ys)), view["labels"]
    assert 0 < view["lastX"] < width


def header_price(page: Any) -> Decimal:
    return D(page.locator(".bot-facts div", has_text="Price").locator("dd").inner_text().replace(",", ""))


def chart_price(view: dict[str, Any]) -> Decimal:
    return D(str(next(label["price"] for label in view["labels"] if label["text"] == "Price")))


def assert_readable(page: Any, view: dict[str, Any], bot: Bot) -> None:
    config = bot.grid_config
    assert_grid_readable(page, "#bot-chart", view, config.lower_price, config.upper_price)
    assert chart_price(view) == header_price(page), "the chart's price is the page's"
    assert len(view["levels"]) == config.grid_count + 1
    # Orders are marked: each level with a live order has its side.
    live = {
        float(price): side
        for side, price in bot.orders.filter(status__in=LIVE_STATUSES).values_list("side", "price")
    }
    assert {level["price"]: level["side"] for level in view["levels"] if level["side"]} == live
    # Fills are marked, one arrow each.
    assert view["markers"] == bot.fills.count() >= 1
    # Candles spread across the width at a sensible spacing; a young market's from the left edge.
    width = view["width"]
    assert MIN_BAR_SPACING <= view["barSpacing"] <= MAX_BAR_SPACING
    if view["candles"] * MAX_BAR_SPACING < width * 0.8:
        assert view["firstX"] <= MAX_BAR_SPACING
    else:
        assert view["lastX"] - max(view["firstX"], 0) >= 0.85 * width


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_the_whole_range_is_in_view_and_readable(
    live_server_asgi: AsgiServer, browser: Any, artifacts: Path, scenario: str
) -> None:
    bot = in_worker(SCENARIOS[scenario])
    for name, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page = _open(browser, live_server_asgi, bot, viewport)
        view = view_of(page)
        page.locator(".bot-chart-card").screenshot(path=artifacts / f"bot-chart-{scenario}-{name}.png")
        assert_readable(page, view, bot)
        page.context.close()


def test_the_chart_follows_the_price_the_page_shows(
    live_server_asgi: AsgiServer, browser: Any, artifacts: Path
) -> None:
    bot = in_worker(few_candles)
    page = _open(browser, live_server_asgi, bot, DESKTOP)
    wait_for_socket(page)
    assert chart_price(view_of(page)) == header_price(page) == D("52900")

    in_worker(lambda: market.set_price("BTCUSDT", D("56100")))
    in_worker(lambda: tick(bot))  # no fill: the price moved between the levels
    in_worker(lambda: market.set_price("BTCUSDT", D("57100")))  # fills the 57,000 sell
    in_worker(lambda: tick(bot))

    page.wait_for_function(
        "JSON.parse(document.getElementById('bot-chart').dataset.view).labels[0].price === 57100"
    )
    assert header_price(page) == D("57100")
    view = view_of(page)
    assert_readable(page, view, bot)
    page.locator(".bot-chart-card").screenshot(path=artifacts / "bot-chart-live-desktop.png")
    page.context.close()
