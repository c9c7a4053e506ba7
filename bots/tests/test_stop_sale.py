"""Stopping with "Sell the base" asks first: the page says what is sold and for about how much,
and only a POST carrying the explicit confirmation sells. The API's switch takes booleans only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import User
from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots import actions, engine
from bots.models import Bot, BotStatus
from bots.tests.conftest import venue
from bots.tests.test_engine import settle, started
from bots.tests.test_exit_parts import expected_parts, holding_about_100_btc, whale
from exchanges.instruments import instrument_for
from trading.models import Order, OrderPurpose, OrderStatus
from trading.templatetags.money import format_amount

D = Decimal
CONFIRM = {"sell_base": "on", "confirm": "sell-base"}


@pytest.fixture
def running(paper_bot: Bot) -> Bot:
    return started(paper_bot)


@pytest.fixture
def owner(paper_bot: Bot) -> Client:
    client = Client()
    client.force_login(paper_bot.owner)
    return client


def stop_url(bot: Bot) -> str:
    return reverse("bot_stop", args=[bot.pk])


def test_stop_asking_to_sell_shows_what_it_sells_and_changes_nothing(owner: Client, running: Bot) -> None:
    events = running.events.count()
    response = owner.post(stop_url(running), {"sell_base": "on"})

    assert response.status_code == 200
    html = response.content.decode()
    books = running.books
    assert books is not None
    assert books.base > 0
    instrument = instrument_for(running.exchange_account, running.symbol)
    held = format_amount(books.base, instrument.quantity_step)
    proceeds = format_amount(instrument.round_quantity(books.base) * D("54000"), "0.01")
    assert f"{held} BTC" in html
    assert f"≈ {proceeds} USDT" in html
    assert "54,000.0 USDT" in html, "the current price at the tick size"
    assert "market order" in html
    assert "slippage" in html
    assert 'name="confirm" value="sell-base"' in html
    assert "Stop and keep the base" in html

    running.refresh_from_db()
    assert running.status == BotStatus.RUNNING
    assert not running.sell_base_on_stop
    assert running.events.count() == events
    assert not running.orders.filter(purpose=OrderPurpose.EXIT).exists()


def test_a_confirmation_without_the_explicit_field_only_asks_again(owner: Client, running: Bot) -> None:
    for tried in ({"sell_base": "on", "confirm": "1"}, {"sell_base": "on", "confirm": ""}):
        response = owner.post(stop_url(running), tried)
        assert response.status_code == 200
        assert "Stop and sell at market" in response.content.decode()
    running.refresh_from_db()
    assert running.status == BotStatus.RUNNING


def test_confirming_stops_and_sells_the_base_at_market(owner: Client, running: Bot) -> None:
    response = owner.post(stop_url(running), CONFIRM)
    assert response.status_code == 302
    running.refresh_from_db()
    assert (running.status, running.sell_base_on_stop) == (BotStatus.STOPPING, True)

    bot = settle(running)
    assert bot.status == BotStatus.STOPPED
    exit_order = Order.objects.get(bot=bot, purpose=OrderPurpose.EXIT)
    assert exit_order.status == OrderStatus.FILLED
    assert exit_order.price is None, "a market order"
    assert bot.books is not None
    assert bot.books.base < instrument_for(bot.exchange_account, bot.symbol).quantity_step
    assert venue(bot).balances()["BTC"].total < D("0.00001")


def test_stopping_and_keeping_the_base_needs_no_confirmation(owner: Client, running: Bot) -> None:
    response = owner.post(stop_url(running))
    assert response.status_code == 302
    running.refresh_from_db()
    assert (running.status, running.sell_base_on_stop) == (BotStatus.STOPPING, False)


def test_a_bot_holding_nothing_yet_says_nothing_will_be_sold(owner: Client, paper_bot: Bot) -> None:
    actions.do_start_bot(paper_bot)  # starting: no books yet
    html = owner.post(stop_url(paper_bot), {"sell_base": "on"}).content.decode()
    assert "The bot holds no BTC: nothing will be sold." in html
    paper_bot.refresh_from_db()
    assert paper_bot.status == BotStatus.STARTING


def test_a_bot_that_cannot_stop_gets_the_message_not_the_question(owner: Client, paper_bot: Bot) -> None:
    response = owner.post(stop_url(paper_bot), {"sell_base": "on"})
    assert response.status_code == 302
    paper_bot.refresh_from_db()
    assert paper_bot.status == BotStatus.DRAFT


def test_another_traders_bot_is_a_404_before_any_question(running: Bot) -> None:
    stranger = Client()
    stranger.force_login(make_user(email="stranger@example.com"))
    assert stranger.post(stop_url(running), {"sell_base": "on"}).status_code == 404
    assert stranger.post(stop_url(running), CONFIRM).status_code == 404
    running.refresh_from_db()
    assert running.status == BotStatus.RUNNING


@pytest.mark.parametrize("value", ["yes", "true", "on", 1, "1", "maybe", None, [], {}])
def test_the_api_sells_only_on_a_json_true(running: Bot, value: object) -> None:
    client = bearer(running.owner)
    for path in ("stop/", "emergency-stop/"):
        response = client.post(f"/api/v1/bots/{running.pk}/{path}", {"sell_base": value}, format="json")
        assert response.status_code == 400, (path, value)
        assert error_of(response)["code"] == "validation_error"
    assert client.post("/api/v1/bots/stop-all/", {"sell_base": value}, format="json").status_code == 400
    running.refresh_from_db()
    assert (running.status, running.sell_base_on_stop) == (BotStatus.RUNNING, False)


def test_the_api_still_stops_on_json_booleans(running: Bot) -> None:
    client = bearer(running.owner)
    response = client.post(f"/api/v1/bots/{running.pk}/stop/", {"sell_base": False}, format="json")
    assert response.status_code == 200
    running.refresh_from_db()
    assert (running.status, running.sell_base_on_stop) == (BotStatus.STOPPING, False)


def test_a_sale_above_the_venues_largest_market_order_says_how_many_orders_it_takes(trader: User) -> None:
    bot = holding_about_100_btc(started(whale(trader)), lambda b: engine.run_tick(b.pk))
    client = Client()
    client.force_login(trader)

    html = client.post(stop_url(bot), {"sell_base": "on"}).content.decode()

    assert bot.books is not None
    step = instrument_for(bot.exchange_account, bot.symbol).quantity_step
    sold = format_amount(sum(expected_parts(bot.books.base)), step)
    assert f'data-testid="sale-quantity">{sold} BTC<' in html
    assert "<strong>3 market orders</strong>: the exchange takes at most 41.5 BTC in one." in html
    assert "with one <strong>market order</strong>" not in html


@pytest.mark.parametrize("body", ["null", "[]", '"sell"'])
def test_a_body_that_is_not_an_object_is_a_400(running: Bot, body: str) -> None:
    client = bearer(running.owner, "trade")
    for path in (
        f"/api/v1/bots/{running.pk}/stop/",
        "/api/v1/bots/stop-all/",
        f"/api/v1/bots/{running.pk}/start/",
    ):
        response = client.generic("POST", path, body, content_type="application/json")
        assert response.status_code == 400, (path, response.content)
    running.refresh_from_db()
    assert running.status == BotStatus.RUNNING


def test_an_empty_body_stops_without_selling(running: Bot) -> None:
    response = bearer(running.owner, "trade").generic("POST", f"/api/v1/bots/{running.pk}/stop/", "")
    assert response.status_code == 200, response.content
    running.refresh_from_db()
    assert running.status in (BotStatus.STOPPING, BotStatus.STOPPED)
    assert not running.sell_base_on_stop
