"""The bot detail page, its tab fragments, its chart data and its buttons, over real HTTP views."""

from __future__ import annotations

import json
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.messages import get_messages
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import make_user
from bots import actions
from bots.models import Bot, BotStatus
from bots.tests.test_engine import started, tick
from bots.views import detail
from exchanges.paper import market
from trading.models import Order, OrderStatus
from trading.tests.factories import make_fills

D = Decimal
TABS = ("orders", "trades", "problems", "events")


@pytest.fixture
def owner(paper_bot: Bot) -> Client:
    client = Client()
    client.force_login(paper_bot.owner)
    return client


@pytest.fixture
def outsider(db: None) -> Client:
    client = Client()
    client.force_login(make_user(email="stranger@example.com"))
    return client


def page(bot: Bot, tab: str | None = None) -> str:
    url = reverse("bot_detail", args=[bot.pk])
    return f"{url}?tab={tab}" if tab else url


def fragment(client: Client, bot: Bot, tab: str) -> str:
    response = client.get(reverse("bot_tab", args=[bot.pk, tab]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def test_a_draft_bot_shows_its_setup_and_an_empty_state_on_every_tab(owner: Client, paper_bot: Bot) -> None:
    html = owner.get(page(paper_bot)).content.decode()
    assert "BTC grid" in html
    assert 'data-bot-status="draft"' in html
    assert "45,000.0–65,000.0 in 5 grids" in html  # noqa: RUF001  (tick size 0.1)
    assert "Not started yet" in html
    assert f'ws-connect="/ws/bots/{paper_bot.pk}/"' in html
    assert "No active orders: start the bot to lay out its grid." in html
    assert "No fills yet." in fragment(owner, paper_bot, "trades")
    assert "No cancelled, rejected or lost orders." in fragment(owner, paper_bot, "problems")
    assert "Created." in fragment(owner, paper_bot, "events")


def test_each_tab_is_a_fragment_over_htmx_and_a_whole_page_without(owner: Client, paper_bot: Bot) -> None:
    html = fragment(owner, paper_bot, "trades")
    assert html.lstrip().startswith('<section id="bot-tab"')
    assert 'data-live-tab="trades"' in html
    assert "<html" not in html
    response = owner.get(reverse("bot_tab", args=[paper_bot.pk, "trades"]))
    assert response.status_code == 302
    assert response["Location"] == page(paper_bot, "trades")
    full = owner.get(page(paper_bot, "trades")).content.decode()
    assert "<html" in full
    assert 'data-live-tab="trades"' in full
    assert 'data-live-tab="orders"' in owner.get(page(paper_bot, "nonsense")).content.decode()


def test_a_running_bot_shows_its_orders_fills_and_pnl(owner: Client, paper_bot: Bot) -> None:
    bot = started(paper_bot)
    market.set_price("BTCUSDT", D("52900"))  # fills the 53,000 buy
    bot = tick(bot)

    html = owner.get(page(bot)).content.decode()
    assert 'data-bot-status="running"' in html
    assert html.count('<tr data-order="') == bot.orders.filter(status=OrderStatus.OPEN).count() == 5
    assert "57,000.0" in html
    assert "49,000.0" in html
    assert "Total PnL" in html
    assert "pnl pnl-" in html
    trades = fragment(owner, bot, "trades")
    assert trades.count("<tr data-trade=") == bot.fills.count() == 2  # the start trade and the grid buy
    assert "52,900.0" not in trades
    assert "53,000.0" in trades
    chart = json.loads(_chart_json(html))
    assert chart["grid"] == ["45000", "49000", "53000", "57000", "61000", "65000"]
    assert (chart["lower"], chart["upper"]) == ("45000", "65000")
    assert chart["price"] == "52900", "the header's price"
    assert {"side": "sell", "price": "57000"} in chart["orders"]
    assert len(chart["fills"]) == 2


def _chart_json(html: str) -> str:
    from html import unescape

    start = html.index('data-chart="') + len('data-chart="')
    return unescape(html[start : html.index('"', start)])


def test_an_errored_bot_says_why_and_how_to_fix_it(owner: Client, paper_bot: Bot) -> None:
    actions.do_start_bot(paper_bot)
    actions.do_fail_bot(paper_bot, "The exchange refused the API key: expired. Re-check the key.")
    html = owner.get(page(paper_bot)).content.decode()
    assert 'role="alert"' in html
    assert "The exchange refused the API key: expired. Re-check the key." in html
    assert "Start again" in html
    assert reverse("exchange_account_detail", args=[paper_bot.exchange_account_id]) in html


def test_rejected_orders_show_the_exchanges_reason(owner: Client, paper_bot: Bot) -> None:
    Order.objects.create(
        bot=paper_bot,
        client_order_id="gwx-rejected",
        symbol="BTCUSDT",
        side="buy",
        order_type="limit",
        price=D("50000"),
        quantity=D("0.001"),
        status=OrderStatus.REJECTED,
        reject_reason="Order value below the minimum of 5 USDT.",
    )
    html = fragment(owner, paper_bot, "problems")
    assert "Order value below the minimum of 5 USDT." in html
    assert "Rejected" in html


def test_start_stop_and_emergency_stop_change_the_bot(owner: Client, paper_bot: Bot) -> None:
    response = owner.post(reverse("bot_start", args=[paper_bot.pk]))
    assert response.status_code == 302
    paper_bot.refresh_from_db()
    assert paper_bot.status == BotStatus.STARTING
    assert paper_bot.events.filter(message="Starting.").exists()

    owner.post(reverse("bot_stop", args=[paper_bot.pk]), {"sell_base": "on", "confirm": "sell-base"})
    paper_bot.refresh_from_db()
    assert (paper_bot.status, paper_bot.sell_base_on_stop) == (BotStatus.STOPPING, True)
    assert paper_bot.events.filter(message="Stopping, selling the base.").exists()

    Bot.objects.filter(pk=paper_bot.pk).update(status=BotStatus.RUNNING)
    owner.post(reverse("bot_emergency_stop", args=[paper_bot.pk]))
    paper_bot.refresh_from_db()
    assert (paper_bot.status, paper_bot.sell_base_on_stop) == (BotStatus.STOPPING, False)
    assert paper_bot.events.filter(message="Emergency stop.").exists()


def test_an_action_the_status_forbids_is_a_message_not_an_error(owner: Client, paper_bot: Bot) -> None:
    response = owner.post(reverse("bot_stop", args=[paper_bot.pk]))
    assert response.status_code == 302
    paper_bot.refresh_from_db()
    assert paper_bot.status == BotStatus.DRAFT
    assert [str(m) for m in get_messages(response.wsgi_request)] == [
        "“BTC grid” is draft; it cannot do that now."
    ]
    assert owner.get(reverse("bot_start", args=[paper_bot.pk])).status_code == 405


def test_clone_opens_the_edit_page_of_a_draft_copy(owner: Client, paper_bot: Bot) -> None:
    response = owner.post(reverse("bot_clone", args=[paper_bot.pk]))
    assert response.status_code == 302
    copy = Bot.objects.exclude(pk=paper_bot.pk).get()
    assert response["Location"] == reverse("bot_edit", args=[copy.pk])


def test_another_traders_bot_is_a_404_everywhere(outsider: Client, paper_bot: Bot) -> None:
    events = paper_bot.events.count()
    assert outsider.get(page(paper_bot)).status_code == 404
    for tab in TABS:
        url = reverse("bot_tab", args=[paper_bot.pk, tab])
        assert outsider.get(url, headers={"HX-Request": "true"}).status_code == 404
    assert outsider.get(reverse("bot_candles", args=[paper_bot.pk])).status_code == 404
    for name in ("bot_start", "bot_stop", "bot_emergency_stop", "bot_clone"):
        assert outsider.post(reverse(name, args=[paper_bot.pk]), {"sell_base": "on"}).status_code == 404
    paper_bot.refresh_from_db()
    assert paper_bot.status == BotStatus.DRAFT
    assert paper_bot.events.count() == events


def test_signed_out_visitors_are_sent_to_sign_in(paper_bot: Bot) -> None:
    response = Client().get(page(paper_bot))
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_candles_come_from_the_venue_as_decimal_strings(owner: Client, paper_bot: Bot) -> None:
    for price in ("54010", "53990.5", "54020"):
        market.set_price("BTCUSDT", D(price))
    body = owner.get(reverse("bot_candles", args=[paper_bot.pk]), {"interval": "1m"}).json()
    assert body["interval"] == "1m"
    last = body["candles"][-1]
    assert last["high"] == "54020"
    assert last["low"] == "53990.5"
    response = owner.get(reverse("bot_candles", args=[paper_bot.pk]), {"interval": "7m"})
    assert response.status_code == 400
    assert "Unknown interval '7m'" in response.json()["error"]


def test_live_fragments_are_the_pages_partials_marked_out_of_band(paper_bot: Bot) -> None:
    user: User = paper_bot.owner
    connect = detail.live_fragments(
        user, paper_bot.pk, {"kind": "connect", "kinds": ["connect"], "tab": None}
    )
    assert '<section id="bot-header"' in connect
    assert '<div id="bot-chart-data"' in connect
    assert '<div id="bot-actions"' in connect
    assert connect.count('hx-swap-oob="true"') == 3, "no tab until the page says which one it shows"

    fill = detail.live_fragments(user, paper_bot.pk, {"kind": "fill", "kinds": ["fill"], "tab": "trades"})
    assert fill.count('hx-swap-oob="true"') == 3
    assert "bot-actions" not in fill, "a fill leaves a half-filled stop form alone"
    assert 'data-live-tab="trades"' in fill
    assert "No fills yet." in fill

    order = detail.live_fragments(user, paper_bot.pk, {"kind": "order", "kinds": ["order"], "tab": "orders"})
    assert "bot-header" not in order, "an order leaves PnL and status alone"

    stranger = make_user(email="someone.else@example.com")
    assert detail.live_fragments(stranger, paper_bot.pk, {"kind": "connect", "tab": "orders"}) == ""


def test_re_rendered_forms_carry_a_token_for_the_browsers_csrf_cookie(paper_bot: Bot) -> None:
    secret = "a" * 32  # the browser's csrftoken cookie, as the socket's scope sees it
    html = detail.live_fragments(
        paper_bot.owner, paper_bot.pk, {"kind": "status", "kinds": ["status"], "csrf_cookie": secret}
    )
    marker = 'name="csrfmiddlewaretoken" value="'
    start = html.index(marker) + len(marker)
    token = html[start : html.index('"', start)]
    assert token != secret, "masked, as {% csrf_token %} does"

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(paper_bot.owner)
    browser.cookies["csrftoken"] = secret
    response = browser.post(reverse("bot_start", args=[paper_bot.pk]), {"csrfmiddlewaretoken": token})
    assert response.status_code == 302
    paper_bot.refresh_from_db()
    assert paper_bot.status == BotStatus.STARTING
    forged = browser.post(reverse("bot_stop", args=[paper_bot.pk]), {"csrfmiddlewaretoken": "b" * 32})
    assert forged.status_code == 403


def test_times_are_in_the_traders_time_zone(owner: Client, paper_bot: Bot) -> None:
    from datetime import UTC, datetime

    from bots.models import BotEvent

    User.objects.filter(pk=paper_bot.owner_id).update(time_zone="Asia/Tokyo")
    BotEvent.objects.filter(bot=paper_bot).update(created_at=datetime(2026, 3, 1, 23, 30, tzinfo=UTC))
    assert "2 Mar 08:30:00" in fragment(owner, paper_bot, "events")
    live = detail.live_fragments(
        User.objects.get(pk=paper_bot.owner_id),
        paper_bot.pk,
        {"kind": "tab", "kinds": ["tab"], "tab": "events"},
    )
    assert "2 Mar 08:30:00" in live


def test_the_bot_pages_queries_do_not_grow_with_its_orders_and_fills(owner: Client, paper_bot: Bot) -> None:
    bot = started(paper_bot)

    def queries(path: str, **headers: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner.get(path, headers=headers).status_code == 200
        return len(captured)

    def every_view() -> list[int]:
        return [queries(page(bot, tab)) for tab in TABS] + [
            queries(reverse("bot_tab", args=[bot.pk, tab]), HX_Request="true") for tab in TABS
        ]

    every_view()  # the first view also records the session and caches the instrument
    few = every_view()
    _pile_up(bot, orders=120, fills=300)
    many = every_view()

    assert many == few
    assert max(many) <= 12


def _pile_up(bot: Bot, *, orders: int, fills: int) -> None:
    """Orders that ended every way, live ones, and fills, as a long-running bot gathers."""
    statuses = (OrderStatus.OPEN, OrderStatus.CANCELLED, OrderStatus.REJECTED, OrderStatus.FILLED)
    Order.objects.bulk_create(
        Order(
            bot=bot,
            client_order_id=f"pile-{bot.pk}-{n}",
            symbol=bot.symbol,
            side="buy" if n % 2 else "sell",
            order_type="limit",
            price=D(50000 + n),
            quantity=D("0.001"),
            status=statuses[n % len(statuses)],
            reject_reason="Insufficient balance" if n % len(statuses) == 2 else "",
        )
        for n in range(orders)
    )
    make_fills(bot, fills, start=timezone.now() - timedelta(days=2))


# PostgreSQL's own paths give what the portable (ORM) paths give -------------------------

TRICKY_PRICES = ("30000.000", "0", "0.000123400", "54000.12", "12345.678901234567", "100.10")
TOO_MANY_DIGITS = "12345678901234567890.123456789012345678"  # plain() keeps 28 significant digits


def _marks(bot: Bot, prices: tuple[str, ...]) -> None:
    """Live orders and fills at `prices`, fills a second apart, the last just under a second."""
    for n, price in enumerate(prices):
        status = (OrderStatus.OPEN, OrderStatus.PENDING, OrderStatus.PARTIALLY_FILLED)[n % 3]
        Order.objects.create(
            bot=bot,
            client_order_id=f"mark-{bot.pk}-{n}",
            symbol=bot.symbol,
            side="buy" if n % 2 else "sell",
            order_type="limit",
            price=D(price),
            quantity=D("0.001"),
            status=status,
        )
        make_fills(bot, 1, start=timezone.now() - timedelta(seconds=n, microseconds=1), price=price)


def _needs_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the compiled and SQL-written paths are PostgreSQL's")


def test_the_chart_marks_postgresql_writes_equal_the_portable_ones(paper_bot: Bot) -> None:
    _needs_postgresql()
    _marks(paper_bot, TRICKY_PRICES)
    written = detail._chart_marks_sql(paper_bot.pk)
    assert written is not None
    assert written == detail._chart_marks(paper_bot.pk)
    orders, fills = (json.loads(part) for part in written)
    assert sorted(order["price"] for order in orders) == sorted(
        ["30000", "0", "0.0001234", "54000.12", "12345.678901234567", "100.1"]
    )
    assert [fill["price"] for fill in fills] == [
        "100.1",
        "12345.678901234567",
        "54000.12",
        "0.0001234",
        "0",
        "30000",
    ]


def test_a_price_with_more_digits_than_plain_keeps_goes_the_portable_way(paper_bot: Bot) -> None:
    _needs_postgresql()
    _marks(paper_bot, ("54000.12", TOO_MANY_DIGITS))
    assert detail._chart_marks_sql(paper_bot.pk) is None
    chart = json.loads(detail.chart_data(paper_bot, None))
    assert "12345678901234567890.12345679" in [fill["price"] for fill in chart["fills"]]


def test_no_orders_and_no_fills_are_empty_arrays_either_way(paper_bot: Bot) -> None:
    _needs_postgresql()
    assert detail._chart_marks_sql(paper_bot.pk) == ("[]", "[]") == detail._chart_marks(paper_bot.pk)


def test_the_bot_read_by_sql_is_the_querysets_bot_and_only_its_owners(paper_bot: Bot) -> None:
    _needs_postgresql()
    bot = started(paper_bot)
    owner = User.objects.get(pk=bot.owner_id)
    read = detail._shown_bot(owner, bot.pk)
    expected = detail._shown_bots(owner).get(pk=bot.pk)
    assert read is not None
    fields = [field.attname for field in Bot._meta.concrete_fields if field.name != "state"]
    assert [getattr(read, name) for name in fields] == [getattr(expected, name) for name in fields]
    assert read.get_deferred_fields() == {"state"}
    assert vars(read.exchange_account).keys() == vars(expected.exchange_account).keys()
    assert read.exchange_account.label == expected.exchange_account.label
    assert read.books == expected.books
    assert detail._shown_bot(make_user(email="not.the.owner@example.com"), bot.pk) is None


def test_compiled_tab_queries_give_the_querysets_rows(paper_bot: Bot) -> None:
    _needs_postgresql()
    bot = started(paper_bot)
    _pile_up(bot, orders=40, fills=60)
    for query in (detail._live_orders, detail._ended_orders, detail._fills, detail._events):
        assert detail._fetch(query, bot.pk) == list(query(bot.pk)), query.__name__
        assert detail._fetch(query, bot.pk + 1000) == [], "another bot's rows are not this one's"
