"""A DCA bot's page: the deal in progress (average entry, take-profit, safety orders used of N),
past deals with their profit, the chart's lines; a running one is not edited, and another
user's DCA bot is a 404."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime
from decimal import Decimal

from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import make_user
from bots.models import Bot
from bots.strategies import dca
from bots.tests.test_dca_engine import CONFIG, dca_bot, tick
from bots.views.detail import chart_data
from config.wording import duration_text
from exchanges.paper import market

D = Decimal


def test_the_page_shows_the_deal_and_the_past_deals(client: Client, trader: User) -> None:
    bot = dca_bot(trader, replace(CONFIG, max_deals=2))
    client.force_login(trader)
    page = client.get(reverse("bot_detail", args=[bot.pk])).content.decode()
    assert "No deal yet" in page or "data-deal-number" in page

    state = tick(bot, 3)
    market.set_price("BTCUSDT", D(53400))  # safety order 1 fills
    state = tick(bot)
    page = client.get(reverse("bot_detail", args=[bot.pk])).content.decode()
    assert "1 of 3" in page  # safety orders used of N
    assert state.average_entry is not None
    tp = state.order(CONFIG.tp_slot)
    assert tp is not None
    assert f"{tp.price:,}" in page  # the take-profit line
    chart = json.loads(chart_data(bot, None, D(53400)))
    assert chart["take_profit"] == str(tp.price)
    assert len(chart["grid"]) == 3  # two safety orders and the take-profit
    safety = sorted(D(price) for price in chart["grid"] if price != chart["take_profit"])
    assert (chart["lower"], chart["upper"], chart["bound_label"]) == (str(safety[0]), None, "Last safety")
    assert "<dt>Deal profit</dt>" in page
    assert "<dt>Deals closed</dt>" in page
    assert "Total PnL = deal profit + unrealized" in page
    assert "grid" not in page.split('id="bot-chart"')[1].split("</p>")[0], (
        "the chart's caption speaks of the deal"
    )

    market.set_price("BTCUSDT", D(56000))  # the take-profit closes deal 1; deal 2 opens
    state = tick(bot, 2)
    assert len(state.history) == 1
    page = client.get(reverse("bot_detail", args=[bot.pk])).content.decode()
    assert "1 deal closed" in page
    assert "Take profit" in page
    row = page.split('class="dca-past-deals"')[1].split("</tbody>")[0]
    [deal] = state.history
    assert "<th>Duration</th>" in row
    assert "<time datetime=" in row  # when it closed
    assert deal.opened_at is not None
    assert deal.closed_at is not None
    seconds = int(
        (datetime.fromisoformat(deal.closed_at) - datetime.fromisoformat(deal.opened_at)).total_seconds()
    )
    assert f"<td>{duration_text(seconds)}</td>" in row


def test_a_running_dca_bot_is_not_edited_and_strangers_get_404(client: Client, trader: User) -> None:
    bot = dca_bot(trader)
    client.force_login(trader)
    response = client.get(reverse("bot_edit", args=[bot.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("bot_detail", args=[bot.pk])
    assert Bot.objects.get(pk=bot.pk).strategy_config == CONFIG

    client.force_login(make_user(email="stranger@example.com"))
    assert client.get(reverse("bot_detail", args=[bot.pk])).status_code == 404
    assert isinstance(Bot.objects.get(pk=bot.pk).strategy_config, dca.DcaConfig)


def test_the_dashboard_tabs_and_api_list_show_a_running_dca_bot(client: Client, trader: User) -> None:
    from accounts.tests.api import bearer
    from bots.views.detail import TABS

    bot = dca_bot(trader)
    tick(bot, 3)
    client.force_login(trader)
    assert bot.name in client.get(reverse("home")).content.decode()
    for tab in TABS:
        response = client.get(reverse("bot_tab", args=[bot.pk, tab]), headers={"HX-Request": "true"})
        assert response.status_code == 200, tab
    listed = bearer(trader, "read").get("/api/v1/bots/").json()["results"]
    assert [(b["strategy"], b["config"]["max_safety_orders"]) for b in listed] == [("dca", 3)]
