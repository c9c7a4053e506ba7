"""Fills across bots through the API: filters, cursor pages, CSV export, isolation."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from accounts.tests.api import bearer, error_of
from bots import actions
from bots.models import Bot
from bots.tests.factories import grid_config
from trading.models import Fill, Order

D = Decimal
T0 = timezone.now().replace(microsecond=0) - timedelta(days=3)


def _fill(bot: Bot, n: int, side: str, symbol: str = "BTCUSDT", days: int = 0) -> Fill:
    order = Order.objects.create(
        bot=bot,
        client_order_id=f"gw{bot.pk}r1-{n}-0{side[0]}",
        symbol=symbol,
        side=side,
        order_type="limit",
        price=D("50000"),
        quantity=D("0.001"),
        status="filled",
    )
    return Fill.objects.create(
        bot=bot,
        order=order,
        exchange_account=bot.exchange_account,
        trade_id=f"t-{bot.pk}-{n}",
        symbol=symbol,
        side=side,
        price=D("50000.5"),
        quantity=D("0.001"),
        fee=D("0.000001"),
        fee_asset="BTC",
        time=T0 + timedelta(days=days, minutes=n),
    )


@pytest.fixture
def fills(paper_bot):
    second = actions.do_create_bot(
        paper_bot.owner, paper_bot.exchange_account, "ETH", grid_config(), D("54000")
    )
    made = [_fill(paper_bot, n, "buy" if n % 2 else "sell", days=n % 3) for n in range(6)]
    made.append(_fill(second, 9, "buy", symbol="ETHUSDT", days=2))
    return made


def test_filters_by_symbol_side_bot_and_time(paper_bot, fills) -> None:
    client = bearer(paper_bot.owner, "read")

    def ids(query: str) -> set[int]:
        response = client.get(f"/api/v1/fills/{query}")
        assert response.status_code == 200, response.content
        return {f["id"] for f in response.json()["results"]}

    assert ids("") == {f.pk for f in fills}
    assert ids("?symbol=ethusdt") == {fills[-1].pk}
    assert ids("?side=buy") == {f.pk for f in fills if f.side == "buy"}
    assert ids(f"?bot={paper_bot.pk}") == {f.pk for f in fills if f.bot_id == paper_bot.pk}
    since = (T0 + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    until = (T0 + timedelta(days=2)).isoformat().replace("+00:00", "Z")
    in_range = {f.pk for f in fills if T0 + timedelta(days=1) <= f.time < T0 + timedelta(days=2)}
    assert in_range
    assert ids(f"?since={since}&until={until}") == in_range
    bad = client.get("/api/v1/fills/?side=both&since=yesterday")
    assert bad.status_code == 400
    assert {"side", "since"} <= set(error_of(bad)["fields"])


def test_cursor_pages_are_newest_first_and_complete(paper_bot, fills) -> None:
    client = bearer(paper_bot.owner, "read")
    seen: list[str] = []
    url: str | None = "/api/v1/fills/?limit=2"
    while url:
        page = client.get(url).json()
        seen += [f["time"] for f in page["results"]]
        url = page["next"]
    assert len(seen) == len(fills)
    assert seen == sorted(seen, reverse=True)


def test_csv_export_streams_every_matching_fill(paper_bot, fills) -> None:
    response = bearer(paper_bot.owner, "read").get("/api/v1/fills/export/?side=buy")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert response.streaming
    rows = list(csv.DictReader(io.StringIO(_body(response))))
    assert {row["trade_id"] for row in rows} == {f.trade_id for f in fills if f.side == "buy"}
    assert D(rows[0]["price"]) == D("50000.5")


def test_other_traders_never_see_your_fills(paper_bot, fills, world) -> None:
    client = bearer(world.outsider, "read")
    assert client.get("/api/v1/fills/").json()["results"] == []
    assert client.get(f"/api/v1/fills/?bot={paper_bot.pk}").json()["results"] == []
    response = client.get("/api/v1/fills/export/")
    assert _body(response).count("\n") == 1  # the header only


def _body(response) -> str:
    return b"".join(response.streaming_content).decode()
