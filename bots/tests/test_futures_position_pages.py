"""A futures bot's page: the position panel with the venue's figures, red near liquidation, its
fragment polled over htmx (the page itself without), a venue that cannot answer said plainly,
the PnL block's split with funding; spot bots unchanged."""

from __future__ import annotations

import re
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.tests.factories import make_user
from bots.models import Bot
from bots.tests.futures_bots import futures_bot, open_position, paper_venue
from exchanges.base import ExchangeUnavailable
from exchanges.paper import market
from exchanges.paper.exchange import PaperExchange
from trading.ledger import Ledger, LedgerSummary
from trading.numbers import fixed

D = Decimal


@pytest.fixture
def owner(trader: User) -> Client:
    client = Client()
    client.force_login(trader)
    return client


def page(client: Client, bot: Bot) -> str:
    response = client.get(reverse("bot_detail", args=[bot.pk]))
    assert response.status_code == 200
    return response.content.decode()


def fragment(client: Client, bot: Bot) -> str:
    response = client.get(reverse("bot_position", args=[bot.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 200
    return response.content.decode()


def fact(html: str, name: str) -> str:
    found = re.search(rf"<dd data-position-{name}>(.*?)</dd>", html, re.S)
    assert found, f"no {name} in the panel"
    return re.sub(r"<[^>]+>", "", found.group(1)).strip()


def near(html: str) -> bool:
    return 'class="liquidation-near"' in html


def test_the_page_shows_the_venues_position(owner: Client, trader: User) -> None:
    bot = futures_bot(trader)
    open_position(bot)
    (venue,) = paper_venue(bot).positions("BTCUSDT")
    assert venue.liquidation_price is not None

    html = page(owner, bot)

    assert 'id="bot-position"' in html
    assert 'hx-trigger="every 5s"' in html
    page_url, fragment_url = reverse("bot_detail", args=[bot.pk]), reverse("bot_position", args=[bot.pk])
    assert f'href="{page_url}" hx-get="{fragment_url}"' in html  # a refresh link that works without JS
    assert "Long, 10x" in html
    assert fact(html, "side") == "Long 0.074 BTC"
    assert fact(html, "entry") == fixed(venue.entry_price, D("0.1"))
    assert fact(html, "mark") == "55,000.0"
    assert fact(html, "liquidation") == fixed(venue.liquidation_price, D("0.1"))
    assert fact(html, "distance") == "9.62%"  # (55,000 - liquidation) / 55,000, cut to 0.01
    assert fact(html, "margin") == f"{fixed(venue.position_margin, D('0.01'))} USDT"
    assert fact(html, "funding") == "Not counted yet"
    assert not near(html)


def test_the_distance_is_red_within_the_stop_distance(owner: Client, trader: User) -> None:
    bot = futures_bot(trader, liquidation_stop_distance=D("12"))
    open_position(bot)

    html = fragment(owner, bot)

    assert near(html)
    assert fact(html, "distance") == "9.62% within 12%"


def test_without_a_stop_distance_it_is_red_within_five_percent(owner: Client, trader: User) -> None:
    bot = futures_bot(trader)
    open_position(bot)
    assert not near(fragment(owner, bot))

    market.set_price("BTCUSDT", D("52000"))
    html = fragment(owner, bot)

    assert near(html)
    assert fact(html, "distance").endswith("within 5%")
    assert D(fact(html, "distance").split("%")[0]) < 5


def test_a_flat_position_says_so(owner: Client, trader: User) -> None:
    html = fragment(owner, futures_bot(trader))

    assert fact(html, "side") == "Flat: no position"
    assert (fact(html, "entry"), fact(html, "liquidation"), fact(html, "distance")) == ("—", "—", "—")


def test_the_fragment_is_the_panel_alone_and_without_htmx_the_page(owner: Client, trader: User) -> None:
    bot = futures_bot(trader)
    open_position(bot)

    html = fragment(owner, bot)
    plain = owner.get(reverse("bot_position", args=[bot.pk]))

    assert html.strip().startswith('<section id="bot-position"')
    assert "<html" not in html
    # The header's PnL and price come along, swapped out of band, so the two agree.
    assert '<section id="bot-header" class="bot-header" aria-live="polite" hx-swap-oob="true">' in html
    assert plain.status_code == 302
    assert plain["Location"] == reverse("bot_detail", args=[bot.pk])


def test_a_venue_that_cannot_answer_is_said_plainly(
    owner: Client, trader: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = futures_bot(trader)

    def down(self: PaperExchange, symbol: str | None = None) -> list[object]:
        raise ExchangeUnavailable("Bybit timed out.")

    monkeypatch.setattr(PaperExchange, "positions", down)

    for html in (page(owner, bot), fragment(owner, bot)):
        assert "data-position-unavailable" in html
        assert "The exchange could not give the position right now: Bybit timed out." in html
        assert 'hx-trigger="every 5s"' in html  # and it keeps trying


def test_the_pnl_block_splits_grid_profit_unrealised_funding_and_fees(
    owner: Client, trader: User, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Both the PnL block and the panel read the bot's one summary: their funding agrees and the
    parts shown add up to the total shown."""
    bot = futures_bot(trader)
    open_position(bot)
    books = Ledger("BTC", "USDT", D("1000"))
    grid, unrealized, funding_ = D("12.40"), D("-3.10"), D("-0.84")
    summary = replace(
        books.summary(D("55000")),
        grid_profit=grid,
        unrealized_pnl=unrealized,
        funding=funding_,
        total_pnl=grid + unrealized + funding_,
    )

    def bot_pnl(*args: Any, **kwargs: Any) -> LedgerSummary:
        return summary

    monkeypatch.setattr("bots.views.detail.bot_pnl", bot_pnl)
    monkeypatch.setattr("bots.futures_position.bot_pnl", bot_pnl)

    html = page(owner, bot)

    header = html[html.index('id="bot-header"') : html.index('id="bot-position"')]
    funding = re.search(r"<dd data-funding>(.*?)</dd>", header, re.S)
    assert funding
    assert fixed(D("-0.84"), D("0.01"), signed=True) + " USDT" in funding.group(1)
    assert "8.46" in header  # 12.40 - 3.10 - 0.84
    assert "+ funding" in header
    assert fact(html, "funding") == "0.84 USDT paid"


def test_a_spot_bot_has_no_position_panel(owner: Client, paper_bot: Bot) -> None:
    html = page(owner, paper_bot)

    assert 'id="bot-position"' not in html
    assert "data-funding" not in html
    response = owner.get(reverse("bot_position", args=[paper_bot.pk]), headers={"HX-Request": "true"})
    assert response.status_code == 404


def test_another_traders_position_is_a_404(trader: User) -> None:
    bot = futures_bot(trader)
    stranger = Client()
    stranger.force_login(make_user(email="stranger@example.com"))

    for url in (reverse("bot_position", args=[bot.pk]), reverse("bot_detail", args=[bot.pk])):
        assert stranger.get(url, headers={"HX-Request": "true"}).status_code == 404
