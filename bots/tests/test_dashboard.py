"""The dashboard: totals, bots, fills, stop and stop-all, live fragments, and its query budget."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import make_user
from bots import actions
from bots.models import Bot, BotStatus
from bots.tests.conftest import grid_config, paper_account_for
from bots.tests.test_engine import started
from bots.views import dashboard
from bots.views.dashboard import equity_series, live_fragments, local_midnight, overview
from exchanges.models import ExchangeAccount
from exchanges.paper import market
from trading.models import EquitySnapshot
from trading.pnl import bot_pnl
from trading.tests.factories import make_fills

D = Decimal


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def running_bot(owner: User, name: str = "BTC grid") -> Bot:
    market.set_price("BTCUSDT", D("54000"))
    account = ExchangeAccount.objects.owned_by(owner).first() or paper_account_for(owner, usdt="20000")
    config = grid_config()
    bot = actions.do_create_bot(owner, account, name, config, actions.check_bot_config(account, config))
    return started(bot)


@pytest.fixture
def trader_client(trader: User) -> Client:
    return client_for(trader)


def test_anonymous_visitors_get_the_landing_page(client: Client, db: None) -> None:
    page = client.get("/").content.decode()
    assert "Grid bots that are careful with your money." in page
    assert "dashboard-cards" not in page


def test_a_new_trader_sees_the_checklist_and_is_asked_to_connect_an_exchange(db: None) -> None:
    user = make_user(email="new@example.com", verified=False)
    page = client_for(user).get("/").content.decode()

    assert "Welcome" in page
    assert "Verify your email" in page
    assert "No exchange account yet" in page
    assert 'href="/exchange-accounts/new/"' in page
    assert "Create your first bot" not in page
    assert "No fills yet" in page


def test_with_an_account_but_no_bots_the_first_bot_is_offered(trader: User, trader_client: Client) -> None:
    paper_account_for(trader)
    page = trader_client.get("/").content.decode()

    assert re.search(r'<a class="button" href="/bots/new/">Create your first bot</a>', page)
    assert "No exchange account yet" not in page


def test_a_running_bot_shows_in_cards_list_fills_and_chart(paper_bot: Bot, trader_client: Client) -> None:
    bot = started(paper_bot)
    EquitySnapshot.objects.create(
        bot=bot, time=timezone.now(), price=D(54000), equity=D("1000.5"), grid_profit=0, unrealized_pnl=0
    )
    summary = bot_pnl(bot)
    assert summary is not None

    response = trader_client.get("/")
    page = response.content.decode()

    assert response.status_code == 200
    assert f'id="bot-row-{bot.pk}"' in page
    assert f'href="/bots/{bot.pk}/"' in page
    assert "Running" in page
    assert "45,000 \u2013 65,000" in page
    assert f"/bots/dashboard/{bot.pk}/stop/" in page
    assert f"{summary.equity:,.2f}" in page  # the equity card
    assert "No fills yet" not in page  # the start trade is a fill
    start_trade = re.search(r'<td data-label="Quantity">([^<]*)</td>', page)
    assert start_trade is not None
    assert start_trade[1].endswith(" BTC"), "a quantity counts the base asset, not the pair"
    assert 'ws-connect="/ws/live/"' in page
    assert "data-live-status" in page
    chart_data = re.search(r'<script id="equity-series" type="application/json">(.*?)</script>', page)
    assert chart_data is not None
    series = json.loads(chart_data[1])
    assert series[-1]["value"] == str(summary.equity)  # the card's figure, as a string, never a float
    assert "lightweight-charts.standalone.production.js" in page


def test_a_trader_with_bots_but_no_2fa_is_asked_to_secure_them_not_to_start_a_first_bot(
    paper_bot: Bot, trader_client: Client
) -> None:
    started(paper_bot)
    page = trader_client.get("/").content.decode()
    assert "Turn on two-factor authentication" in page
    assert "these steps keep your bots safe" in page
    assert "start your first grid bot" not in page


def test_the_onboarding_checklist_goes_once_every_step_is_done(paper_bot: Bot, trader_client: Client) -> None:
    from accounts import twofactor

    twofactor.enable_two_factor(twofactor.pending_totp_device(paper_bot.owner))
    page = trader_client.get("/").content.decode()
    assert "Verify your email" not in page
    assert "<h1>Dashboard</h1>" in page


def test_stop_on_a_row_stops_the_bot(paper_bot: Bot, trader_client: Client) -> None:
    bot = started(paper_bot)

    response = trader_client.post(f"/bots/dashboard/{bot.pk}/stop/")

    assert response.status_code == 302
    bot.refresh_from_db()
    assert bot.status == BotStatus.STOPPING


def test_stop_over_htmx_returns_the_row(paper_bot: Bot, trader_client: Client) -> None:
    bot = started(paper_bot)

    response = trader_client.post(f"/bots/dashboard/{bot.pk}/stop/", HTTP_HX_REQUEST="true")

    page = response.content.decode()
    assert page.lstrip().startswith(f'<tr id="bot-row-{bot.pk}"')
    assert "Stopping" in page
    assert "<html" not in page
    assert Bot.objects.get(pk=bot.pk).status == BotStatus.STOPPING


def test_another_traders_bot_cannot_be_stopped(paper_bot: Bot, world) -> None:
    bot = started(paper_bot)

    response = client_for(world.outsider).post(f"/bots/dashboard/{bot.pk}/stop/")

    assert response.status_code == 404
    assert Bot.objects.get(pk=bot.pk).status == BotStatus.RUNNING


def test_stopping_a_stopped_bot_says_why(paper_bot: Bot, trader_client: Client) -> None:
    response = trader_client.post(f"/bots/dashboard/{paper_bot.pk}/stop/", follow=True)
    assert "cannot do that now" in response.content.decode()
    assert Bot.objects.get(pk=paper_bot.pk).status == BotStatus.DRAFT


def test_stop_all_asks_first_then_stops_every_bot(trader: User, trader_client: Client, world) -> None:
    mine = [running_bot(trader, "one"), running_bot(trader, "two")]
    theirs = running_bot(world.outsider, "not mine")

    confirm = trader_client.get("/bots/dashboard/stop-all/")
    page = confirm.content.decode()
    assert confirm.status_code == 200
    assert "2 bots" in page
    assert "one" in page
    assert "not mine" not in page
    assert all(Bot.objects.get(pk=b.pk).status == BotStatus.RUNNING for b in mine), "a GET changes nothing"

    response = trader_client.post("/bots/dashboard/stop-all/", follow=True)

    assert "Emergency stop: 2 bots stopping" in response.content.decode()
    assert {Bot.objects.get(pk=b.pk).status for b in mine} == {BotStatus.STOPPING}
    assert Bot.objects.get(pk=theirs.pk).status == BotStatus.RUNNING


def test_stop_all_confirm_is_a_fragment_over_htmx(paper_bot: Bot, trader_client: Client) -> None:
    started(paper_bot)
    page = trader_client.get("/bots/dashboard/stop-all/", HTTP_HX_REQUEST="true").content.decode()
    assert 'id="stop-all-confirm"' in page
    assert "<html" not in page


def test_stop_all_with_nothing_running_says_so(trader: User, trader_client: Client) -> None:
    assert "nothing to stop" in trader_client.get("/bots/dashboard/stop-all/").content.decode()
    assert "nothing to stop" in trader_client.post("/bots/dashboard/stop-all/", follow=True).content.decode()


def snapshot(bot: Bot, at: datetime, equity: str) -> None:
    EquitySnapshot.objects.create(
        bot=bot, time=at, price=D(54000), equity=D(equity), grid_profit=D(0), unrealized_pnl=D(0)
    )


def test_todays_pnl_counts_from_the_last_snapshot_before_local_midnight(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    owner = bot.owner
    owner.time_zone = "Asia/Tokyo"
    owner.save(update_fields=["time_zone"])
    now = timezone.now()
    midnight = local_midnight(owner, now)
    assert midnight.utcoffset() == timedelta(hours=9)
    Bot.objects.filter(pk=bot.pk).update(started_at=midnight - timedelta(days=2))
    for minutes, equity in ((-90, "990"), (-30, "995.5"), (30, "1200")):  # the last one is after midnight
        snapshot(bot, midnight + timedelta(minutes=minutes), equity)

    line = overview(owner, now=now).lines[0]

    assert line.summary is not None
    assert line.today_pnl == line.summary.equity - D("995.5")


def test_a_run_started_today_counts_from_its_investment(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    data = overview(bot.owner)
    line = data.lines[0]
    assert line.summary is not None
    assert line.today_pnl == line.summary.equity - line.summary.investment
    assert data.totals[0].today_pnl == line.today_pnl


def test_running_bots_are_listed_first(trader: User) -> None:
    draft = actions.do_create_bot(trader, paper_account_for(trader), "draft", grid_config(), D(54000))
    running = running_bot(trader, "running")
    assert [line.bot.pk for line in overview(trader).lines] == [running.pk, draft.pk]


def test_the_dashboard_query_count_does_not_grow_with_bots(trader: User, trader_client: Client) -> None:
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert trader_client.get("/").status_code == 200
        return len(captured)

    bots = [running_bot(trader, "first"), running_bot(trader, "second")]
    for bot in bots:
        make_fills(bot, 3, start=timezone.now() - timedelta(hours=1))
    queries()  # the first visit also records the session
    with_two = queries()
    for name in ("third", "fourth", "fifth", "sixth"):
        make_fills(running_bot(trader, name), 3, start=timezone.now() - timedelta(hours=1))
    with_six = queries()

    assert with_six == with_two
    assert with_six <= 20


def test_live_fragments_swap_cards_the_bot_row_and_fills_out_of_band(paper_bot: Bot) -> None:
    bot = started(paper_bot)

    html = live_fragments(bot.owner, {"type": "bot.event", "kind": "fill", "bot_id": bot.pk})

    for dom_id in ("dashboard-cards", f"bot-row-{bot.pk}", "dashboard-fills"):
        assert re.search(rf'id="{dom_id}"[^>]*hx-swap-oob="true"', html), dom_id
    assert "<html" not in html


def test_live_fragments_never_show_another_traders_bot(paper_bot: Bot, world) -> None:
    bot = started(paper_bot)

    html = live_fragments(world.outsider, {"type": "bot.event", "kind": "fill", "bot_id": bot.pk})

    assert f"bot-row-{bot.pk}" not in html
    assert bot.name not in html


def test_the_live_region_refreshes_on_its_own(paper_bot: Bot, trader_client: Client) -> None:
    bot = started(paper_bot)
    page = trader_client.get("/bots/dashboard/live/").content.decode()
    assert f'id="bot-row-{bot.pk}"' in page
    assert 'id="dashboard-cards"' in page
    assert "<html" not in page
    assert "hx-swap-oob" not in page


def test_the_equity_chart_sums_the_last_snapshot_of_each_bot_running_at_each_point(trader: User) -> None:
    first, second = running_bot(trader, "first"), running_bot(trader, "second")
    EquitySnapshot.objects.all().delete()
    now = timezone.now().replace(second=30, microsecond=0)
    ten_minutes_ago = now.replace(second=0) - timedelta(minutes=10)  # a point of the chart
    taken = [
        (first, ten_minutes_ago - timedelta(seconds=150), D("1000")),
        (first, ten_minutes_ago - timedelta(seconds=80), D("1001.25")),
        (first, ten_minutes_ago - timedelta(seconds=10), D("1002.5")),
        (second, ten_minutes_ago - timedelta(seconds=70), D("999.125")),
        (second, ten_minutes_ago - timedelta(seconds=20), D("999.5")),
    ]
    for bot, at, equity in taken:
        EquitySnapshot.objects.create(
            bot=bot, time=at, price=D(54000), equity=equity, grid_profit=0, unrealized_pnl=0
        )

    data = overview(trader, now=now)
    series = equity_series("USDT", data.lines, now=now, live_equity=data.totals[0].equity)

    by_time = {_at(point): D(point["value"]) for point in series}
    assert by_time[ten_minutes_ago] == D("1002.5") + D("999.5")
    assert by_time[ten_minutes_ago - timedelta(minutes=1)] == D("1001.25") + D("999.125")
    assert by_time[ten_minutes_ago - timedelta(minutes=2)] == D("1000")  # the second was not running yet
    # Both stopped snapshotting ten minutes ago: after LIVE_WINDOW they are in no point but now's.
    assert ten_minutes_ago + dashboard.LIVE_WINDOW not in by_time
    assert series[-1] == {"time": int(now.timestamp()), "value": str(data.totals[0].equity)}
    assert all(isinstance(point["value"], str) for point in series)


def test_the_charts_newest_point_is_the_equity_in_live_bots_card(trader: User, trader_client: Client) -> None:
    live, stopped = running_bot(trader, "live"), running_bot(trader, "stopped an hour ago")
    now = timezone.now()
    for minutes in range(90, 0, -1):  # both ran until an hour ago
        for bot in (live, stopped):
            if minutes > 60 or bot == live:
                snapshot(bot, now - timedelta(minutes=minutes), "1000")
    Bot.objects.filter(pk=stopped.pk).update(status=BotStatus.STOPPED, stopped_at=now - timedelta(minutes=60))

    page = trader_client.get("/").content.decode()

    script = re.search(r'<script id="equity-series" type="application/json">(.*?)</script>', page, re.S)
    card = re.search(r"<h2>Equity in live bots</h2><p class=\"stat-value\">([^ ]+) ", page)
    assert script is not None
    assert card is not None
    series = json.loads(script[1])
    data = overview(trader)
    assert card[1] == f"{data.totals[0].equity:,.2f}"
    assert f"{D(series[-1]['value']):,.2f}" == card[1]
    assert D(series[-1]["value"]) == data.totals[0].equity  # the stopped bot's equity is not in it
    hour_and_a_half_ago = [p for p in series if _at(p) < now - timedelta(minutes=61)]
    assert D(hour_and_a_half_ago[-1]["value"]) == D("2000")  # then both were running
    assert "Equity in live bots, last 7 days" in page


def test_twenty_minutes_of_trading_draw_a_line_not_a_point(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    now = timezone.now()
    for minutes in range(20, 0, -1):
        snapshot(bot, now - timedelta(minutes=minutes), str(1000 + minutes))

    series = equity_series("USDT", overview(bot.owner, now=now).lines, now=now, live_equity=D("999"))

    assert len(series) >= 20
    assert len({point["value"] for point in series}) >= 20
    assert [point["time"] for point in series] == sorted({point["time"] for point in series})


def test_todays_pnl_is_the_change_in_total_pnl_since_local_midnight_and_says_so(
    trader: User, trader_client: Client
) -> None:
    trader.time_zone = "Europe/Paris"
    trader.save(update_fields=["time_zone"])
    today, stopped_today = running_bot(trader, "today"), running_bot(trader, "stopped today")
    make_fills(today, 4, start=timezone.now() - timedelta(minutes=30))
    Bot.objects.filter(pk=stopped_today.pk).update(status=BotStatus.STOPPED, stopped_at=timezone.now())
    long_ago = running_bot(trader, "ended before midnight")
    midnight = local_midnight(trader, timezone.now())
    Bot.objects.filter(pk=long_ago.pk).update(
        status=BotStatus.STOPPED,
        started_at=midnight - timedelta(days=2),
        stopped_at=midnight - timedelta(days=1),
    )
    snapshot(long_ago, midnight - timedelta(days=1, minutes=5), "1003")

    data = overview(trader)

    lines = {line.bot.name: line for line in data.lines}
    assert lines["ended before midnight"].today_pnl == 0
    for name in ("today", "stopped today"):  # only traded today: today's PnL is all of it
        summary = lines[name].summary
        assert summary is not None
        assert lines[name].today_pnl == summary.total_pnl
    totals = data.totals[0]
    ended = lines["ended before midnight"].summary
    assert ended is not None
    assert totals.today_pnl == totals.total_pnl - ended.total_pnl
    page = trader_client.get("/").content.decode()
    assert "Change in total PnL since midnight, Europe/Paris" in page


def test_today_pnl_counts_from_the_total_at_midnight() -> None:
    from trading.ledger import Ledger
    from trading.pnl import today_pnl

    summary = Ledger("BTC", "USDT", D("1000")).summary(D("54000"))
    assert today_pnl(summary, midnight_equity=None) == summary.total_pnl
    assert today_pnl(summary, midnight_equity=D("1012.5")) == D("-12.5")
    assert today_pnl(summary, midnight_equity=D("990"), ended_before_midnight=True) == 0


def _snapshot(bot: Bot, at: datetime, equity: str) -> None:
    EquitySnapshot.objects.create(
        bot=bot, time=at, price=D(54000), equity=D(equity), grid_profit=0, unrealized_pnl=0
    )


def test_the_equity_chart_reads_only_the_points_that_can_still_change(
    trader: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = running_bot(trader, "first")
    EquitySnapshot.objects.all().delete()  # the engine's own, taken as it started
    now = timezone.now()
    _snapshot(first, now - timedelta(hours=3), "1000")
    _snapshot(first, now - timedelta(minutes=2), "1010")
    read: list[list[datetime]] = []
    real = dashboard._equity_at_points

    def spy(bot_ids: list[int], points: list[datetime]) -> dict[datetime, Decimal]:
        read.append(points)
        return real(bot_ids, points)

    monkeypatch.setattr(dashboard, "_equity_at_points", spy)
    before = equity_series("USDT", overview(trader, now=now).lines, now=now)
    later = now + timedelta(minutes=2)
    _snapshot(first, later - timedelta(seconds=61), "1020")  # a snapshot taken since: the newest points move
    after = equity_series("USDT", overview(trader, now=later).lines, now=later)

    assert len(read[0]) > 250  # every point once: 7 days, finer the nearer now
    assert read[1]
    # Then only the newest, and the few a finer span reaches as it moves on with the clock.
    assert len(read[1]) < 16  # ten minutes unsettled, at a minute apart
    assert all(at > now - dashboard.SETTLED_AFTER or at < now - timedelta(hours=2) for at in read[1])
    assert D(before[-1]["value"]) == D("1010")
    assert D(after[-1]["value"]) == D("1020")
    settled = now - dashboard.SETTLED_AFTER
    in_both = later - timedelta(hours=2)
    assert [p for p in after if in_both <= _at(p) <= settled] == [
        p for p in before if in_both <= _at(p) <= settled
    ]

    second = running_bot(trader, "second")  # another set of bots: nothing remembered applies
    EquitySnapshot.objects.filter(bot=second).delete()
    _snapshot(second, now - timedelta(hours=3, seconds=1), "500")
    with_second = equity_series("USDT", overview(trader, now=later).lines, now=later)
    assert len(read[2]) > 250
    three_hours_ago = [p for p in with_second if now - timedelta(hours=3) <= _at(p)]
    assert D(three_hours_ago[0]["value"]) == D("1500")


def _at(point: dict[str, Any]) -> datetime:
    return datetime.fromtimestamp(point["time"], tz=UTC)


def test_recent_fills_are_the_newest_across_bots_as_the_history_shows_them(trader: User) -> None:
    from bots.views.dashboard import _bot_rows, recent_fills
    from trading.history import page_of

    now = timezone.now()
    bots = [running_bot(trader, f"bot {n}") for n in range(5)]
    make_fills(bots[0], 6, start=now - timedelta(minutes=10), step=timedelta(seconds=30))  # chatty
    make_fills(bots[1], 2, start=now - timedelta(minutes=9), same_time_every=2)
    make_fills(bots[2], 3, start=now - timedelta(days=3))
    annotated = _bot_rows(trader, local_midnight(trader, now))

    for limit in (3, 5, 10):
        expected = [fill.pk for fill in page_of(trader, {}, size=limit).fills]
        assert [fill.pk for fill in recent_fills(trader, annotated, limit)] == expected


def test_a_snapshot_from_before_this_run_does_not_count_for_today(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    now = timezone.now()
    midnight = local_midnight(bot.owner, now)
    Bot.objects.filter(pk=bot.pk).update(started_at=midnight - timedelta(minutes=60))

    snapshot(bot, midnight - timedelta(minutes=90), "990")  # the previous run's
    line = overview(bot.owner, now=now).lines[0]
    assert line.summary is not None
    assert line.today_pnl == line.summary.equity - line.summary.investment

    snapshot(bot, midnight - timedelta(minutes=30), "995.5")  # this run's, before midnight
    line = overview(bot.owner, now=now).lines[0]
    assert line.summary is not None
    assert line.today_pnl == line.summary.equity - D("995.5")


def _fragments(html: str) -> list[str]:
    """The out-of-band fragments of a live message, each from its opening tag."""
    starts = r'(?=<section id="dashboard-cards"|<template><tr id="bot-row-|<section id="dashboard-fills")'
    # The cards carry the time they were rendered at, for the chart's newest point.
    html = re.sub(r'data-equity-time="\d+"', 'data-equity-time=""', html)
    return [part.strip() for part in re.split(starts, html) if part.strip()]


def test_a_burst_renders_what_each_event_would_once_per_fragment(trader: User) -> None:
    bots = [running_bot(trader, "first"), running_bot(trader, "second"), running_bot(trader, "third")]
    for bot in bots:
        make_fills(bot, 2, start=timezone.now() - timedelta(hours=1))
    first, second = (live_fragments(trader, {"kind": "fill", "bot_id": bot.pk}) for bot in bots[:2])
    cards, first_row, fills = _fragments(first)

    burst = dashboard.burst_fragments(
        trader,
        [
            {"kind": "order", "bot_id": bots[0].pk},
            {"kind": "fill", "bot_id": bots[1].pk},
            {"kind": "fill", "bot_id": bots[0].pk},
        ],
    )

    assert _fragments(second)[0] == cards
    assert _fragments(second)[2] == fills
    assert _fragments(burst) == [cards, first_row, _fragments(second)[1], fills]
    assert f"bot-row-{bots[2].pk}" not in burst  # not in the burst


def test_a_burst_costs_one_overview_whatever_its_size(trader: User, world) -> None:
    bots = [running_bot(trader, name) for name in ("first", "second", "third", "fourth")]
    for bot in bots:
        make_fills(bot, 2, start=timezone.now() - timedelta(hours=1))
    strangers = running_bot(world.outsider, "stranger's")

    def queries(call: Any) -> tuple[int, str]:
        with CaptureQueriesContext(connection) as captured:
            html = call()
        return len(captured), html

    read_once, _ = queries(lambda: overview(trader))
    one_event, _ = queries(lambda: live_fragments(trader, {"kind": "fill", "bot_id": bots[0].pk}))
    events = [{"kind": "fill", "bot_id": bot.pk} for bot in bots] + [{"kind": "fill", "bot_id": strangers.pk}]
    burst, html = queries(lambda: dashboard.burst_fragments(trader, events))

    assert one_event == read_once
    assert burst == read_once
    assert html.count("<tr id=") == 4, "the stranger's bot is not the trader's to see"


def bots_in_every_state(trader: User) -> dict[str, Bot]:
    bots = {
        "draft": actions.do_create_bot(trader, paper_account_for(trader), "draft", grid_config(), D(54000))
    }
    for status in ("running", "stopping", "stopped", "error"):
        bots[status] = running_bot(trader, status)
        make_fills(bots[status], 2, start=timezone.now() - timedelta(hours=1))
    Bot.objects.filter(pk=bots["stopping"].pk).update(status=BotStatus.STOPPING)
    Bot.objects.filter(pk=bots["stopped"].pk).update(status=BotStatus.STOPPED, stopped_at=timezone.now())
    reason = "The exchange said <no>: insufficient balance & a long explanation " * 3
    Bot.objects.filter(pk=bots["error"].pk).update(status=BotStatus.ERROR, status_reason=reason)
    return bots


def test_the_compiled_bot_query_reads_what_the_orm_does(trader: User, world) -> None:
    from bots.views.dashboard import BotRow, _bot_rows, _rows_query

    bots = bots_in_every_state(trader)
    running_bot(world.outsider, "stranger's")
    now = timezone.now()
    midnight = local_midnight(trader, now)
    snapshot(bots["running"], now - timedelta(minutes=1), "990")
    Bot.objects.filter(pk=bots["running"].pk).update(started_at=midnight - timedelta(days=1))
    snapshot(bots["running"], midnight - timedelta(minutes=5), "995.5")

    rows = _bot_rows(trader, midnight)

    assert connection.vendor == "postgresql", "the compiled path is PostgreSQL's"
    assert rows == [BotRow(*row) for row in _rows_query(trader.pk, midnight)]
    by_pk = {row.pk: row for row in rows}
    assert set(by_pk) == {bot.pk for bot in bots.values()}, "only the trader's own bots"
    assert by_pk[bots["draft"].pk].ledger is None
    assert by_pk[bots["draft"].pk].books is None
    assert by_pk[bots["running"].pk].ledger == Bot.objects.get(pk=bots["running"].pk).ledger
    assert by_pk[bots["running"].pk].midnight_equity == D("995.5")
    assert by_pk[bots["running"].pk].lower_price == "45000"
    assert [row.name for row in _bot_rows(world.outsider, midnight)] == ["stranger's"]


def _row(page: str, bot: Bot) -> str:
    found = re.search(rf'<tr id="bot-row-{bot.pk}".*?</tr>', page, re.S)
    assert found is not None, bot.name
    return found[0]


def test_each_state_shows_its_row(trader: User, trader_client: Client) -> None:
    bots = bots_in_every_state(trader)

    page = trader_client.get("/").content.decode()

    draft = _row(page, bots["draft"])
    assert '<span class="badge status-draft">Draft</span>' in draft
    assert '<td data-label="PnL"><span class="muted">—</span></td>' in draft  # no books yet
    assert '<span class="muted">None yet</span>' in draft
    assert "/stop/" not in draft, "no stop button"
    for status in ("running", "stopping", "stopped", "error"):
        row = _row(page, bots[status])
        assert f'<span class="badge status-{status}">' in row
        assert '<span class="pnl pnl-' in row
        assert "USDT</span>" in row
        assert "<time datetime=" in row
        assert f'href="/bots/{bots[status].pk}/"' in row
    assert "/stop/" in _row(page, bots["running"])
    assert "/stop/" not in _row(page, bots["stopped"])
    error = _row(page, bots["error"])
    assert '<br><small class="muted">The exchange said &lt;no&gt;: insufficient balance &amp; a long' in error
    assert "…</small>" in error  # cut at 80 characters
    assert "<no>" not in error


def test_a_row_travels_in_a_template_and_a_new_bot_brings_the_whole_list(trader: User) -> None:
    bot = running_bot(trader, "first")
    row = live_fragments(trader, {"kind": "fill", "bot_id": bot.pk})
    # Outside a table an HTML parser drops a bare <tr>, and with it the id its swap needs.
    assert f'<template><tr id="bot-row-{bot.pk}" hx-swap-oob="true">' in row
    assert 'id="dashboard-bots-card"' not in row

    account = ExchangeAccount.objects.owned_by(trader).get()
    created = actions.do_create_bot(trader, account, "new one", grid_config(), D("54000"))
    listed = live_fragments(trader, {"kind": "created", "kinds": ["created"], "bot_id": created.pk})
    card = listed.split('<section id="dashboard-bots-card"', 1)[1].split("</section>", 1)[0]
    assert card.startswith(' class="card" aria-labelledby="bots-heading" hx-swap-oob="true"')
    assert f'<tr id="bot-row-{created.pk}">' in card  # plain rows inside the swapped card
    assert f'<tr id="bot-row-{bot.pk}">' in card
    assert "<template>" not in card
