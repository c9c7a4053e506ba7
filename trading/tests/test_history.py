"""Trade history: scoping, filters, keyset pages and the streamed CSV export."""

from __future__ import annotations

import asyncio
import csv
import io
import re
import zoneinfo
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta
from decimal import Decimal
from typing import cast

import pytest
from django.http import StreamingHttpResponse
from django.test import AsyncClient, Client

from accounts.models import User
from bots import actions
from bots.models import Bot
from bots.tests.conftest import grid_config, paper_account_for
from trading.history import PAGE_SIZE, Cursor
from trading.models import Fill
from trading.tests.factories import make_fills

D = Decimal
UTC = zoneinfo.ZoneInfo("UTC")
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def bot_for(owner: User, name: str = "BTC grid", symbol: str = "BTCUSDT") -> Bot:
    account = paper_account_for(owner) if not owner.bots.exists() else owner.bots.first().exchange_account  # type: ignore[union-attr]
    return actions.do_create_bot(owner, account, name, grid_config(symbol=symbol), D(54000))


@pytest.fixture
def owner(world) -> User:
    return world.owner


@pytest.fixture
def owner_client(owner: User) -> Client:
    return client_for(owner)


def shown_ids(page: str) -> list[int]:
    return [int(pk) for pk in re.findall(r'<tr id="fill-(\d+)"', page)]


def test_the_history_lists_only_the_traders_own_fills(owner: User, owner_client: Client, world) -> None:
    mine = make_fills(bot_for(owner), 3, start=START)
    theirs = make_fills(bot_for(world.outsider, "Their grid"), 3, start=START)

    page = owner_client.get("/trades/").content.decode()

    assert shown_ids(page) == [f.pk for f in reversed(mine)]
    assert not set(shown_ids(page)) & {f.pk for f in theirs}
    assert "Their grid" not in page
    assert 'href="/trades/export.csv"' in page


def test_a_fill_value_is_shown_in_quote_cents_and_exported_exactly(owner: User, owner_client: Client) -> None:
    make_fills(bot_for(owner), 1, start=START, price="54000.12", quantity="0.001234")  # 66.63614808

    page = owner_client.get("/trades/").content.decode()
    export = b"".join(chunks_of(owner_client.get("/trades/export.csv")))

    assert '<td data-label="Value">66.64</td>' in page
    assert "66.63614808" in export.decode()


def test_no_fills_yet_is_an_empty_state(owner_client: Client) -> None:
    page = owner_client.get("/trades/").content.decode()
    assert "No fills yet" in page
    assert "Export CSV" not in page


def test_filtering_by_someone_elses_bot_is_a_404(owner_client: Client, world) -> None:
    theirs = bot_for(world.outsider, "Their grid")
    make_fills(theirs, 2, start=START)

    assert owner_client.get(f"/trades/?bot={theirs.pk}").status_code == 404
    assert owner_client.get(f"/trades/export.csv?bot={theirs.pk}").status_code == 404


@pytest.mark.parametrize(
    "query",
    [
        "bot=abc",
        "bot=-3",
        "side=sideways",
        "symbol=NOPE",
        "date_from=yesterday",
        "date_from=2026-03-05&date_to=2026-03-01",
        "date_to=2026-02-30",
    ],
)
def test_bad_filters_get_a_message_never_a_500(owner: User, owner_client: Client, query: str) -> None:
    make_fills(bot_for(owner), 2, start=START)

    response = owner_client.get(f"/trades/?{query}")

    assert response.status_code == 200
    page = response.content.decode()
    assert "Some filters are not valid" in page
    assert shown_ids(page) == []
    export = owner_client.get(f"/trades/export.csv?{query}")
    assert export.status_code == 302
    assert export["Location"].startswith("/trades/?")


def test_a_bad_page_link_shows_the_newest_page_with_a_message(owner: User, owner_client: Client) -> None:
    fills = make_fills(bot_for(owner), 3, start=START)

    page = owner_client.get("/trades/?after=not-a-cursor!").content.decode()

    assert "not valid any more" in page
    assert shown_ids(page)[0] == fills[-1].pk


def test_filters_by_bot_symbol_and_side(owner: User, owner_client: Client) -> None:
    btc = bot_for(owner, "BTC grid")
    eth = bot_for(owner, "ETH grid", symbol="ETHUSDT")
    btc_fills = make_fills(btc, 4, start=START)
    eth_fills = make_fills(eth, 4, start=START, price="1500")

    by_bot = shown_ids(owner_client.get(f"/trades/?bot={eth.pk}").content.decode())
    by_symbol = shown_ids(owner_client.get("/trades/?symbol=BTCUSDT").content.decode())
    sells = shown_ids(owner_client.get(f"/trades/?bot={btc.pk}&side=sell").content.decode())

    assert set(by_bot) == {f.pk for f in eth_fills}
    assert set(by_symbol) == {f.pk for f in btc_fills}
    assert set(sells) == {f.pk for f in btc_fills if f.side == "sell"}
    assert len(sells) == 2


def test_dates_are_whole_days_in_the_traders_time_zone(owner: User, owner_client: Client) -> None:
    owner.time_zone = "America/New_York"
    owner.save(update_fields=["time_zone"])
    new_york = zoneinfo.ZoneInfo("America/New_York")
    bot = bot_for(owner)
    late_on_the_1st = make_fills(bot, 1, start=datetime(2026, 3, 1, 23, 30, tzinfo=new_york))[0]
    early_on_the_2nd = make_fills(bot, 1, start=datetime(2026, 3, 2, 0, 30, tzinfo=new_york))[0]

    first = shown_ids(owner_client.get("/trades/?date_from=2026-03-01&date_to=2026-03-01").content.decode())
    second = shown_ids(owner_client.get("/trades/?date_from=2026-03-02").content.decode())

    # In UTC both fills are on 2 March; in New York they straddle midnight.
    assert first == [late_on_the_1st.pk]
    assert second == [early_on_the_2nd.pk]


def test_keyset_pages_cover_every_fill_once_in_order(owner: User, owner_client: Client) -> None:
    # Three fills share each timestamp, so page edges fall inside ties.
    fills = make_fills(bot_for(owner), 320, start=START, same_time_every=3)
    expected = [f.pk for f in sorted(fills, key=lambda f: (f.time, f.pk), reverse=True)]

    seen: list[int] = []
    url = "/trades/"
    pages: list[str] = []
    while url:
        page = owner_client.get(url).content.decode()
        pages.append(page)
        seen += shown_ids(page)
        older = re.search(r'href="\?(after=[^"]+)"', page)
        url = f"/trades/?{older[1]}" if older else ""

    assert seen == expected
    assert len(pages) == -(-320 // PAGE_SIZE)

    # And back up from the last page, a page at a time, without gaps or repeats.
    last_ids = shown_ids(pages[-1])
    newer = re.search(r'href="\?(before=[^"]+)"', pages[-1])
    assert newer is not None
    above = shown_ids(owner_client.get(f"/trades/?{newer[1].replace('&amp;', '&')}").content.decode())
    assert above == expected[len(expected) - len(last_ids) - PAGE_SIZE : len(expected) - len(last_ids)]


def test_page_links_keep_the_filters(owner: User, owner_client: Client) -> None:
    bot = bot_for(owner)
    make_fills(bot, 2 * PAGE_SIZE + 10, start=START)

    page = owner_client.get(f"/trades/?bot={bot.pk}&side=buy").content.decode()

    assert f'href="?bot={bot.pk}&amp;side=buy&amp;after=' in page


def test_the_results_are_a_fragment_over_htmx(owner: User, owner_client: Client) -> None:
    make_fills(bot_for(owner), 2, start=START)
    page = owner_client.get("/trades/", HTTP_HX_REQUEST="true").content.decode()
    assert page.lstrip().startswith('<section class="card" id="trade-results"')
    assert len(shown_ids(page)) == 2


def test_a_cursor_round_trips_and_rejects_tampering() -> None:
    cursor = Cursor(START.replace(microsecond=123456), 42)
    assert Cursor.decode(cursor.encode()) == cursor
    for bad in ("", "x", "MjAyNg", cursor.encode()[:-3]):
        with pytest.raises(ValueError, match="not valid"):
            Cursor.decode(bad)


# CSV ----------------------------------------------------------------------------


def streamed(response: object) -> StreamingHttpResponse:
    assert isinstance(response, StreamingHttpResponse)
    return response


def chunks_of(response: object) -> list[bytes]:
    return list(cast(Iterator[bytes], streamed(response).streaming_content))


def read_csv(body: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(body.decode())))


def test_the_export_streams_matching_fills_with_exact_decimals(owner: User, owner_client: Client) -> None:
    bot = bot_for(owner, "=HYPERLINK grid")
    fills = make_fills(bot, 2500, start=START, price="54000.123456789012345678", quantity="0.000001")
    other = bot_for(owner, "Other")
    make_fills(other, 3, start=START)

    response = owner_client.get(f"/trades/export.csv?bot={bot.pk}")

    assert response.status_code == 200
    assert streamed(response).streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment;" in response["Content-Disposition"]
    chunks = chunks_of(response)
    assert len(chunks) > 2, "written in batches, not one body"
    rows = read_csv(b"".join(chunks))
    assert rows[0][:7] == ["time", "bot_id", "bot", "symbol", "side", "price", "quantity"]
    assert len(rows) == 1 + len(fills)
    newest = rows[1]
    stored = Fill.objects.get(pk=fills[-1].pk)
    assert newest[1] == str(bot.pk)
    assert newest[2] == "'=HYPERLINK grid", "a formula-looking name is defused"
    assert D(newest[5]) == stored.price
    assert newest[5] == "54000.123456789012345678"
    assert newest[6] == "0.000001"
    assert D(newest[7]) == stored.price * stored.quantity
    assert newest[8] == "0.000001234"
    assert datetime.fromisoformat(newest[0]) == stored.time


def test_the_export_is_scoped_to_the_trader(owner: User, owner_client: Client, world) -> None:
    make_fills(bot_for(world.outsider, "Their grid"), 5, start=START)
    make_fills(bot_for(owner), 2, start=START)

    rows = read_csv(b"".join(chunks_of(owner_client.get("/trades/export.csv"))))

    assert len(rows) == 3
    assert "Their grid" not in {row[2] for row in rows}


def test_the_export_over_asgi_streams_asynchronously(owner: User, transactional_db: None) -> None:
    make_fills(bot_for(owner), 1500, start=START)

    async def fetch() -> tuple[bool, bytes]:
        client = AsyncClient()
        await client.aforce_login(owner)
        response = await client.get("/trades/export.csv")
        stream = streamed(response)
        assert stream.is_async
        body = b"".join([chunk async for chunk in cast(AsyncIterator[bytes], stream.streaming_content)])
        return stream.streaming, body

    # A thread of its own: the browser tests leave an event loop on this one.
    with ThreadPoolExecutor(max_workers=1) as pool:
        streaming, body = pool.submit(asyncio.run, fetch()).result()

    assert streaming
    assert len(read_csv(body)) == 1501


def test_the_export_in_the_traders_time_zone(owner: User, owner_client: Client) -> None:
    owner.time_zone = "Asia/Kolkata"
    owner.save(update_fields=["time_zone"])
    make_fills(bot_for(owner), 1, start=START)

    rows = read_csv(b"".join(chunks_of(owner_client.get("/trades/export.csv"))))

    assert rows[1][0] == "2026-03-01T17:30:00+05:30"
    assert datetime.fromisoformat(rows[1][0]) - START == timedelta(0)


def test_keyset_pages_across_bots_interleave_exactly(owner: User, owner_client: Client, world) -> None:
    fills = []
    for n, name in enumerate(("one", "two", "three")):
        # Offset starts so the bots' fills interleave, with ties across bots too.
        fills += make_fills(bot_for(owner, name), 70, start=START + timedelta(seconds=30 * (n % 2)))
    make_fills(bot_for(world.outsider, "theirs"), 40, start=START)
    expected = [f.pk for f in sorted(fills, key=lambda f: (f.time, f.pk), reverse=True)]

    seen: list[int] = []
    url = "/trades/?side=buy"
    while url:
        page = owner_client.get(url).content.decode()
        seen += shown_ids(page)
        older = re.search(r'href="\?(side=buy&amp;after=[^"]+)"', page)
        url = f"/trades/?{older[1].replace('&amp;', '&')}" if older else ""

    buys = {f.pk for f in fills if f.side == "buy"}
    assert seen == [pk for pk in expected if pk in buys]


def filter_card(page: str) -> str:
    return page[page.index('id="trade-filters"') : page.index('id="trade-results"')]


def test_bad_filters_are_told_once_inside_the_form_and_never_follow_to_the_next_page(
    owner: User, owner_client: Client
) -> None:
    make_fills(bot_for(owner), 2, start=START)

    page = owner_client.get("/trades/?date_from=yesterday").content.decode()
    fragment = owner_client.get("/trades/?side=sideways", HTTP_HX_REQUEST="true").content.decode()
    owner_client.get("/trades/export.csv?bot=abc")
    next_page = owner_client.get("/trades/").content.decode()

    assert page.count("Some filters are not valid") == 1
    assert "Some filters are not valid" in filter_card(page)
    assert 'class="messages"' not in page
    # The fragment carries the form's error box out of band; the form itself stays as typed.
    assert fragment.count("Some filters are not valid") == 1
    assert 'id="filter-errors" aria-live="polite" hx-swap-oob="true"' in fragment
    assert 'id="trade-filters"' not in fragment
    assert "Some filters are not valid" not in next_page
    assert 'class="messages"' not in next_page
    assert len(shown_ids(next_page)) == 2


def test_a_bad_page_link_is_told_on_that_page_only(owner: User, owner_client: Client) -> None:
    make_fills(bot_for(owner), 2, start=START)

    owner_client.get("/trades/?after=not-a-cursor!", HTTP_HX_REQUEST="true")
    next_page = owner_client.get("/trades/").content.decode()

    assert "not valid any more" not in next_page
