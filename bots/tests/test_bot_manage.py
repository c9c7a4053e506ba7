"""Editing, cloning and deleting a bot from its pages, with the API's rules (bots.actions): only
a bot that cannot trade is edited or deleted, another trader's bot is a 404, and deleting says
what history goes with the bot."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots import actions
from bots.models import Bot, BotEvent, BotStatus
from bots.tests.conftest import paper_account_for
from bots.tests.test_engine import settle, started
from trading.models import EquitySnapshot, Fill, Order, OrderStatus

D = Decimal


@pytest.fixture
def owner(paper_bot: Bot) -> Client:
    client = Client()
    client.force_login(paper_bot.owner)
    return client


@pytest.fixture
def stranger(db: None) -> Client:
    client = Client()
    client.force_login(make_user(email="stranger@example.com"))
    return client


def edit_url(bot: Bot) -> str:
    return reverse("bot_edit", args=[bot.pk])


def delete_url(bot: Bot) -> str:
    return reverse("bot_delete", args=[bot.pk])


def form_values(bot: Bot, **overrides: str) -> dict[str, str]:
    values = {
        "account": str(bot.exchange_account_id),
        "symbol": "BTCUSDT",
        "name": bot.name,
        "lower_price": "45000",
        "upper_price": "65000",
        "grid_count": "5",
        "spacing": "arithmetic",
        "direction": "long",
        "investment": "1000",
        "take_profit_action": "sell_base",
        "stop_loss_action": "sell_base",
    }
    values.update(overrides)
    return values


def stopped(bot: Bot) -> Bot:
    bot = started(bot)
    actions.do_stop_bot(bot)
    bot = settle(bot)
    assert bot.status == BotStatus.STOPPED
    return bot


def said(response: Any) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


# Edit -----------------------------------------------------------------------------


def test_the_edit_page_is_the_wizard_form_filled_from_the_bot(owner: Client, paper_bot: Bot) -> None:
    actions.do_update_bot(
        paper_bot,
        paper_bot.exchange_account,
        "Tight grid",
        paper_bot.grid_config.__class__(**{**vars(paper_bot.grid_config), "grid_count": 4}),
        D("54000"),
    )
    html = owner.get(edit_url(paper_bot)).content.decode()
    assert "Edit “Tight grid”" in html
    assert 'name="lower_price" value="45000"' in html
    assert 'name="grid_count" value="4"' in html
    assert 'value="Tight grid"' in html
    assert f'action="{edit_url(paper_bot)}"' in html
    assert "Save changes" in html
    assert 'data-testid="profit-per-grid"' in html, "the preview of the saved settings"
    assert "{#" not in html
    assert "form_url" not in html


def test_without_js_the_preview_updates_on_the_edit_page_and_nothing_is_saved(
    owner: Client, paper_bot: Bot
) -> None:
    html = owner.get(edit_url(paper_bot), form_values(paper_bot, grid_count="7")).content.decode()
    assert 'name="grid_count" value="7"' in html
    assert "8 levels at" in html
    assert f'formaction="{edit_url(paper_bot)}"' in html, "the page's own preview button"
    paper_bot.refresh_from_db()
    assert paper_bot.grid_config.grid_count == 5


def test_over_htmx_the_edit_form_comes_back_alone(owner: Client, paper_bot: Bot) -> None:
    response = owner.get(edit_url(paper_bot), form_values(paper_bot), headers={"HX-Request": "true"})
    html = response.content.decode()
    assert html.lstrip().startswith('<form id="wizard-form"')
    assert "<html" not in html


def test_saving_updates_the_bot_and_logs_it(owner: Client, paper_bot: Bot) -> None:
    response = owner.post(edit_url(paper_bot), form_values(paper_bot, name="Wider", upper_price="70000"))
    assert response.status_code == 302
    assert response["Location"] == reverse("bot_detail", args=[paper_bot.pk])
    paper_bot.refresh_from_db()
    assert paper_bot.name == "Wider"
    assert paper_bot.grid_config.upper_price == D("70000")
    assert paper_bot.status == BotStatus.DRAFT
    assert paper_bot.events.filter(message="Settings changed.").exists()
    assert said(response) == ["“Wider” is saved: the next start uses these settings."]


def test_a_setting_the_strategy_refuses_is_shown_on_its_field_and_nothing_is_saved(
    owner: Client, paper_bot: Bot
) -> None:
    response = owner.post(edit_url(paper_bot), form_values(paper_bot, lower_price="70000"))
    assert response.status_code == 400
    assert "The upper price must be above the lower price." in response.content.decode()
    paper_bot.refresh_from_db()
    assert paper_bot.grid_config.lower_price == D("45000")
    assert not paper_bot.events.filter(message="Settings changed.").exists()


def test_a_stopped_bot_is_edited_and_keeps_its_history(owner: Client, paper_bot: Bot) -> None:
    bot = stopped(paper_bot)
    fills = bot.fills.count()
    assert fills
    response = owner.post(edit_url(bot), form_values(bot, grid_count="6"))
    assert response.status_code == 302
    bot.refresh_from_db()
    assert (bot.status, bot.grid_config.grid_count) == (BotStatus.STOPPED, 6)
    assert bot.fills.count() == fills


def test_an_errored_bot_without_orders_is_edited_and_stops_waiting_to_restart(
    owner: Client, paper_bot: Bot
) -> None:
    actions.do_start_bot(paper_bot)
    Bot.objects.filter(pk=paper_bot.pk).update(auto_restart=True)
    actions.do_fail_bot(paper_bot, "Not enough funds on the exchange account.", transient=True)
    paper_bot.refresh_from_db()
    assert paper_bot.restart_at is not None
    assert owner.get(edit_url(paper_bot)).status_code == 200

    response = owner.post(edit_url(paper_bot), form_values(paper_bot, investment="500"))
    assert response.status_code == 302
    paper_bot.refresh_from_db()
    assert paper_bot.status == BotStatus.STOPPED
    assert (paper_bot.status_reason, paper_bot.restart_at) == ("", None)
    assert paper_bot.grid_config.investment == D("500")


def test_a_running_bot_is_not_edited(owner: Client, paper_bot: Bot) -> None:
    bot = started(paper_bot)
    for ask in (lambda: owner.get(edit_url(bot)), lambda: owner.post(edit_url(bot), form_values(bot))):
        response = ask()
        assert response.status_code == 302
        assert response["Location"] == reverse("bot_detail", args=[bot.pk])
        assert said(response)[-1] == "“BTC grid” is running; stop it before editing it."
    bot.refresh_from_db()
    assert bot.grid_config.grid_count == 5
    page = owner.get(reverse("bot_detail", args=[bot.pk])).content.decode()
    assert edit_url(bot) not in page
    assert delete_url(bot) not in page
    assert "Stop the bot to edit its settings or delete it." in page


def test_an_errored_bot_with_orders_out_is_not_edited_or_deleted(owner: Client, paper_bot: Bot) -> None:
    bot = started(paper_bot)
    actions.do_fail_bot(bot, "The exchange refused the API key.")
    live = bot.orders.filter(status=OrderStatus.OPEN).count()
    assert live
    for ask in (
        lambda: owner.post(edit_url(bot), form_values(bot)),
        lambda: owner.post(delete_url(bot), {"confirm": "delete"}),
    ):
        response = ask()
        assert response.status_code == 302
        message = said(response)[-1]
        assert f"with {live} open orders still on the exchange; stop it first" in message
    bot.refresh_from_db()
    assert bot.status == BotStatus.ERROR
    api = bearer(bot.owner)
    refused = api.patch(f"/api/v1/bots/{bot.pk}/", {"grid_count": 6}, format="json")
    assert refused.status_code == 409
    assert error_of(refused)["code"] == "bot_active"


def test_the_api_follows_the_same_rule_for_an_errored_bot_without_orders(paper_bot: Bot) -> None:
    actions.do_start_bot(paper_bot)
    actions.do_fail_bot(paper_bot, "Start failed.")
    response = bearer(paper_bot.owner).patch(
        f"/api/v1/bots/{paper_bot.pk}/", {"grid_count": 6}, format="json"
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "stopped"


# Clone ----------------------------------------------------------------------------


def test_clone_makes_a_draft_copy_and_opens_its_edit_page(owner: Client, paper_bot: Bot) -> None:
    bot = started(paper_bot)  # a running bot can be copied; it is left alone
    response = owner.post(reverse("bot_clone", args=[bot.pk]))
    copy = Bot.objects.exclude(pk=bot.pk).get()
    assert response.status_code == 302
    assert response["Location"] == edit_url(copy)
    assert (copy.name, copy.status, copy.owner_id) == ("BTC grid (copy)", BotStatus.DRAFT, bot.owner_id)
    assert copy.config == bot.config
    assert copy.exchange_account_id == bot.exchange_account_id
    assert (copy.ledger, copy.state, copy.run) == (None, None, 0)
    assert not copy.orders.exists()
    bot.refresh_from_db()
    assert bot.status == BotStatus.RUNNING
    assert "Edit “BTC grid (copy)”" in owner.get(response["Location"]).content.decode()


def test_a_long_name_keeps_its_copy_suffix_within_the_limit(paper_bot: Bot) -> None:
    Bot.objects.filter(pk=paper_bot.pk).update(name="x" * 80)
    paper_bot.refresh_from_db()
    copy = actions.do_clone_bot(paper_bot)
    assert len(copy.name) == 80
    assert copy.name.endswith(" (copy)")


# Delete ---------------------------------------------------------------------------


def test_delete_asks_first_and_says_the_trades_go_with_the_bot(owner: Client, paper_bot: Bot) -> None:
    bot = stopped(paper_bot)
    fills = bot.fills.count()
    html = owner.get(delete_url(bot)).content.decode()
    assert f"{fills} trade" in html
    assert "Its history is deleted with it" in html
    assert f"/trades/export.csv?bot={bot.pk}" in html
    assert 'name="confirm" value="delete"' in html
    unconfirmed = owner.post(delete_url(bot))
    assert unconfirmed.status_code == 200
    assert Bot.objects.filter(pk=bot.pk).exists()


def test_confirming_deletes_the_bot_with_its_history_as_the_api_does(owner: Client, paper_bot: Bot) -> None:
    bot = stopped(paper_bot)
    other = actions.do_clone_bot(bot)  # another bot's history stays
    EquitySnapshot.objects.create(
        bot=bot,
        time=timezone.now(),
        price=D("54000"),
        equity=D("1000"),
        grid_profit=D(0),
        unrealized_pnl=D(0),
    )
    response = owner.post(delete_url(bot), {"confirm": "delete"})
    assert response.status_code == 302
    assert response["Location"] == reverse("home")
    assert said(response) == ["“BTC grid” and its history are deleted."]
    assert not Bot.objects.filter(pk=bot.pk).exists()
    for model in (Order, Fill, BotEvent, EquitySnapshot):
        assert not model.objects.filter(bot_id=bot.pk).exists(), model.__name__
    assert Bot.objects.filter(pk=other.pk).exists()


def test_a_draft_that_never_traded_says_only_its_settings_go(owner: Client, paper_bot: Bot) -> None:
    html = owner.get(delete_url(paper_bot)).content.decode()
    assert "It has never traded" in html
    assert "Its history is deleted with it" not in html


def test_a_running_bot_is_not_deleted(owner: Client, paper_bot: Bot) -> None:
    bot = started(paper_bot)
    for ask in (
        lambda: owner.get(delete_url(bot)),
        lambda: owner.post(delete_url(bot), {"confirm": "delete"}),
    ):
        response = ask()
        assert response.status_code == 302
        assert said(response)[-1] == "“BTC grid” is running; stop it before deleting it."
    assert Bot.objects.filter(pk=bot.pk).exists()


# Tenancy and the dashboard ----------------------------------------------------------


def test_another_traders_bot_is_a_404_for_edit_clone_and_delete(stranger: Client, paper_bot: Bot) -> None:
    assert stranger.get(edit_url(paper_bot)).status_code == 404
    assert stranger.post(edit_url(paper_bot), form_values(paper_bot, name="Mine")).status_code == 404
    assert stranger.post(reverse("bot_clone", args=[paper_bot.pk])).status_code == 404
    assert stranger.get(delete_url(paper_bot)).status_code == 404
    assert stranger.post(delete_url(paper_bot), {"confirm": "delete"}).status_code == 404
    assert Bot.objects.get().name == "BTC grid"


def test_an_account_of_another_trader_cannot_be_chosen_on_edit(owner: Client, paper_bot: Bot) -> None:
    theirs = paper_account_for(make_user(email="other.trader@example.com"))
    response = owner.post(edit_url(paper_bot), form_values(paper_bot, account=str(theirs.pk)))
    assert response.status_code == 400
    paper_bot.refresh_from_db()
    assert paper_bot.exchange_account_id != theirs.pk


def test_the_dashboard_row_menu_offers_what_the_status_allows(owner: Client, paper_bot: Bot) -> None:
    running = started(actions.do_clone_bot(paper_bot))
    html = owner.get("/").content.decode()
    assert f'href="/bots/{paper_bot.pk}/edit/"' in html
    assert f'href="/bots/{paper_bot.pk}/delete/"' in html
    assert f'action="/bots/{paper_bot.pk}/clone/"' in html
    assert f'href="/bots/{running.pk}/edit/"' not in html
    assert f'href="/bots/{running.pk}/delete/"' not in html
    assert f'action="/bots/{running.pk}/clone/"' in html
