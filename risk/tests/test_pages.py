from __future__ import annotations

from decimal import Decimal

from django.test import Client

from accounts.models import AuditEvent, User
from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots.models import Bot, BotEvent, BotEventKind, BotStatus
from bots.tests.test_wizard import review, worked_example
from risk.models import LossAction, RiskRules
from risk.tests.test_rules import client_for, losing_day, running_bot, set_rules

D = Decimal


def test_the_risk_page_shows_todays_loss_against_the_limit(trader: User) -> None:
    losing_day(trader, bots=1)
    set_rules(trader, daily_loss_limit=D("250"))
    page = client_for(trader).get("/account/risk/").content.decode()
    assert "USDT lost" in page
    assert "of a 250 USDT limit" in page
    assert "<meter" in page
    assert 'aria-current="page">Risk<' in page


def test_saving_the_rules(trader: User) -> None:
    response = client_for(trader).post(
        "/account/risk/",
        {
            "daily_loss_limit": "250",
            "daily_loss_action": "alert",
            "max_total_investment": "5000",
            "max_bots_per_symbol": "2",
        },
        follow=True,
    )
    assert "Risk rules saved." in response.content.decode()
    rules = RiskRules.objects.get(user=trader)
    assert (rules.daily_loss_limit, rules.daily_loss_action) == (D("250"), LossAction.ALERT)
    assert (rules.max_total_investment, rules.max_bots_per_symbol) == (D("5000"), 2)
    assert AuditEvent.objects.filter(actor=trader, action="risk.rules_changed").exists()


def test_empty_rules_mean_no_limit(trader: User) -> None:
    set_rules(trader, daily_loss_limit=D("5"), max_bots_per_symbol=1)
    client_for(trader).post("/account/risk/", {"daily_loss_action": "stop_all"})
    rules = RiskRules.objects.get(user=trader)
    assert rules.daily_loss_limit is None
    assert rules.max_bots_per_symbol is None


def test_bad_rules_are_refused_with_clear_errors(trader: User) -> None:
    response = client_for(trader).post(
        "/account/risk/",
        {
            "daily_loss_limit": "-5",
            "daily_loss_action": "stop_all",
            "max_total_investment": "lots",
            "max_bots_per_symbol": "0",
        },
    )
    page = response.content.decode()
    assert response.status_code == 400
    assert "Enter an amount above zero, or leave it empty for no limit." in page
    assert "Enter an amount, e.g. 5000." in page
    assert "Enter 1 or more, or leave it empty for no limit." in page
    assert not RiskRules.objects.filter(user=trader).exists()


def test_the_kill_switch_asks_for_confirmation(trader: User) -> None:
    bot = running_bot(trader)
    response = client_for(trader).post("/account/risk/kill-switch/", {})
    assert response.status_code == 400
    assert "Tick the box to confirm" in response.content.decode()
    assert Bot.objects.get(pk=bot.pk).status == BotStatus.RUNNING


def test_the_kill_switch_stops_only_my_bots_at_once(trader: User) -> None:
    mine = [running_bot(trader, "one"), running_bot(trader, "two")]
    theirs = running_bot(make_user(email="other@example.com"), "not mine")

    response = client_for(trader).post("/account/risk/kill-switch/", {"confirm": "on"}, follow=True)

    assert "Kill switch: 2 bots stopping" in response.content.decode()
    assert {Bot.objects.get(pk=b.pk).status for b in mine} == {BotStatus.STOPPING}
    assert Bot.objects.get(pk=theirs.pk).status == BotStatus.RUNNING
    for bot in mine:
        assert BotEvent.objects.filter(
            bot=bot, kind=BotEventKind.WARNING, message__contains="kill switch"
        ).exists()
    assert AuditEvent.objects.filter(actor=trader, action="risk.kill_switch").count() == 1


def test_the_risk_page_needs_a_sign_in(client: Client, db: None) -> None:
    assert client.get("/account/risk/").status_code == 302
    assert client.post("/account/risk/kill-switch/", {"confirm": "on"}).status_code == 302


# The API ------------------------------------------------------------------------------


def test_the_api_reads_empty_rules_then_replaces_them(trader: User) -> None:
    api = bearer(trader)
    assert api.get("/api/v1/risk-rules/").json() == {
        "daily_loss_limit": None,
        "daily_loss_action": "stop_all",
        "max_total_investment": None,
        "max_bots_per_symbol": None,
        "max_leverage": None,
        "staff_max_leverage": None,
        "tripped_on": None,
        "updated_at": None,
    }
    response = api.put(
        "/api/v1/risk-rules/",
        {"daily_loss_limit": "250", "daily_loss_action": "alert", "max_bots_per_symbol": 2},
        format="json",
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["daily_loss_limit"] == "250.00000000"
    assert body["daily_loss_action"] == "alert"
    assert body["max_total_investment"] is None
    assert body["max_bots_per_symbol"] == 2
    assert RiskRules.objects.get(user=trader).daily_loss_limit == D("250")


def test_the_api_refuses_bad_rules(trader: User) -> None:
    response = bearer(trader).put(
        "/api/v1/risk-rules/", {"daily_loss_limit": "0", "max_bots_per_symbol": "2"}, format="json"
    )
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert set(fields) == {"daily_loss_limit", "max_bots_per_symbol"}
    assert not RiskRules.objects.filter(user=trader).exists()


def test_the_api_shows_only_my_rules(trader: User) -> None:
    set_rules(make_user(email="other@example.com"), daily_loss_limit=D("7"))
    assert bearer(trader).get("/api/v1/risk-rules/").json()["daily_loss_limit"] is None


def test_a_read_token_cannot_change_the_rules(trader: User) -> None:
    response = bearer(trader, scopes="read").put(
        "/api/v1/risk-rules/", {"daily_loss_limit": "5"}, format="json"
    )
    assert response.status_code == 403
    assert not RiskRules.objects.filter(user=trader).exists()


def test_the_wizard_keeps_a_bot_the_rules_refuse_as_a_draft(trader: User) -> None:
    first = running_bot(trader, "first")
    set_rules(trader, max_total_investment=D("1500"))
    client = client_for(trader)
    data = worked_example(first.exchange_account, name="Second")
    token = review(client, data)

    response = client.post("/bots/new/", {**data, "token": token, "confirm": "1"}, follow=True)

    page = response.content.decode()
    assert "over your risk limit of 1,500" in page
    assert "“Second” is saved as a draft: start it once your risk rules allow." in page
    assert Bot.objects.get(name="Second").status == BotStatus.DRAFT
