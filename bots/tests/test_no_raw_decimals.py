"""No page, message or event shows a decimal as the database stores it: every amount a trader
reads goes through trading.numbers (23,774.4, not 23774.400000000000000000; 1,002.35, not
1002.345483328)."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import User
from bots import actions
from bots.models import Bot, BotEvent, BotStatus
from bots.tests.conftest import paper_account_for
from bots.tests.factories import grid_config
from bots.tests.test_engine import started, tick
from bots.views.detail import TABS
from exchanges.paper import market

pytestmark = pytest.mark.django_db

D = Decimal
# As a database column of scale 18 reads back, and the unrounded product of two of them.
STORED_PRICE = D("54000.400000000000000000")
# Padding zeros after a digit, or more places than any amount is shown with.
PADDED = re.compile(r"\d\.\d*[1-9]0{4,}(?!\d)|\d\.\d{9,}")
# Ten thousand or more without a thousands separator (times, dates and ids are not numbers of this shape).
UNGROUPED = re.compile(r"(?<![\w.,:/#-])\d{5,}(?:\.\d+)?(?![\w,:/-])")


def visible_text(html: str) -> str:
    """What a reader sees: no scripts (the charts' data is exact on purpose), no tags or attributes."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def raw_decimals(text: str) -> list[str]:
    return PADDED.findall(text) + UNGROUPED.findall(text)


def test_the_raw_decimal_patterns_catch_what_they_should() -> None:
    assert raw_decimals("The grid needs 1002547037.345483328 USDT") == ["7.345483328", "1002547037.345483328"]
    assert raw_decimals("The price (23774.400000000000000000) is above") != []
    assert raw_decimals("Buy 0.003919 @ 53,000 at 6 Dec 02:28, 1,002,547,037.35 USDT, 0.000000 filled") == []


def _bots(trader: User) -> dict[str, Bot]:
    market.set_price("BTCUSDT", STORED_PRICE)
    account = paper_account_for(trader, usdt="5000")
    padded = {"lower_price": D("45000.000000000000"), "upper_price": D("65000.000000000000")}

    def create(name: str, **overrides: object) -> Bot:
        config = grid_config(**{**padded, **overrides})
        return actions.do_create_bot(trader, account, name, config, actions.check_bot_config(account, config))

    trading = started(create("trading"))
    market.set_price("BTCUSDT", D("52900.300000000000000000"))  # the 53,000 buy fills
    tick(trading)
    short_of_funds = create("short of funds", investment=D("1002547.345483328"))
    actions.do_start_bot(short_of_funds)
    tick(short_of_funds)
    waiting = create("waiting", trigger_price=D("50000.000000000000"))
    actions.do_start_bot(waiting)
    tick(waiting)
    return {"trading": trading, "short of funds": short_of_funds, "waiting": waiting}


def test_no_page_or_event_shows_a_raw_decimal(trader: User) -> None:
    bots = _bots(trader)
    short = Bot.objects.get(pk=bots["short of funds"].pk)
    assert short.status == BotStatus.ERROR
    # The case this guards against, now at the quote's cents and rounded against the trader.
    assert re.search(
        r"This grid needs 1,00\d,\d{3}\.\d\d USDT free; the account has [\d,]+\.\d\d USDT available",
        short.status_reason,
    )
    waiting = Bot.objects.get(pk=bots["waiting"].pk)
    assert waiting.status_reason == "Waiting for the price to reach the trigger 50,000 (now 52,900.3)."
    client = Client()
    client.force_login(trader)

    pages = ["/", "/trades/"]
    pages += [f"/bots/{bot.pk}/?tab={tab}" for bot in bots.values() for tab in TABS]
    found = {}
    for url in pages:
        response = client.get(url)
        assert response.status_code == 200, url
        if raws := raw_decimals(visible_text(response.content.decode())):
            found[url] = raws
    for event in BotEvent.objects.filter(bot__owner=trader):
        if raws := raw_decimals(event.message):
            found[f"event {event.message!r}"] = raws
    for bot in Bot.objects.filter(owner=trader):
        if raws := raw_decimals(bot.status_reason):
            found[f"status of {bot.name}"] = raws
    assert found == {}


def test_the_wizards_warnings_and_errors_write_amounts_by_the_rule(trader: User) -> None:
    from bots.tests.test_wizard import HTMX, worked_example

    market.set_price("BTCUSDT", STORED_PRICE)
    account = paper_account_for(trader)
    client = Client()
    client.force_login(trader)
    above = worked_example(account, lower_price="30,000", upper_price="40 000")  # as the product prints them
    html = visible_text(client.get("/bots/new/preview/", above, headers=HTMX).content.decode())
    assert "The price (54,000.4) is above your range" in html
    too_small = worked_example(account, investment="10", grid_count="50")
    html = visible_text(client.get("/bots/new/preview/", too_small, headers=HTMX).content.decode())
    assert "each order would be" in html
    assert raw_decimals(html) == []


def test_a_cloned_bots_form_shows_its_amounts_without_padding(trader: User) -> None:
    market.set_price("BTCUSDT", STORED_PRICE)
    account = paper_account_for(trader)
    config = grid_config(
        lower_price=D("45000.000000000000"), upper_price=D("65000.500000"), investment=D("1000.000000")
    )
    bot = actions.do_create_bot(trader, account, "padded", config, actions.check_bot_config(account, config))
    client = Client()
    client.force_login(trader)

    html = client.get(f"/bots/new/?clone={bot.pk}").content.decode()

    for field, shown in (("lower_price", "45000"), ("upper_price", "65000.5"), ("investment", "1000")):
        assert re.search(rf'name="{field}" value="{re.escape(shown)}"', html), field
