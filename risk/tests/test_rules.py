from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.test import Client
from django.utils import timezone

from accounts.models import AuditEvent, User
from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots import actions as bot_actions
from bots import engine
from bots.models import Bot, BotEvent, BotEventKind, BotStatus
from bots.tests.conftest import paper_account_for
from bots.tests.factories import grid_config
from bots.tests.test_engine import started
from exchanges.models import ExchangeAccount
from exchanges.paper import market
from notifications.events import Kind, Severity
from notifications.models import Notification
from risk import actions
from risk.models import LossAction, RiskRules
from risk.tasks import check_daily_loss_limits

D = Decimal
Capture = Callable[..., Any]


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def draft_bot(owner: User, name: str = "BTC grid", **config: Any) -> Bot:
    market.set_price("BTCUSDT", D("54000"))
    account = ExchangeAccount.objects.owned_by(owner).first() or paper_account_for(owner, usdt="50000")
    grid = grid_config(**config)
    return bot_actions.do_create_bot(owner, account, name, grid, bot_actions.check_bot_config(account, grid))


def running_bot(owner: User, name: str = "BTC grid", **config: Any) -> Bot:
    return started(draft_bot(owner, name, **config))


def set_rules(user: User, **values: Any) -> RiskRules:
    rules, _ = RiskRules.objects.update_or_create(user=user, defaults=values)
    return rules


def losing_day(owner: User, bots: int = 2) -> list[Bot]:
    """Running bots holding base bought at 54,000, marked at 48,000: an unrealised loss today."""
    mine = [running_bot(owner, f"grid {i}") for i in range(bots)]
    market.set_price("BTCUSDT", D("48000"))
    return mine


# The daily loss limit ------------------------------------------------------------------


def test_todays_loss_is_the_dashboards_todays_pnl_negated(trader: User) -> None:
    losing_day(trader, bots=1)
    (loss,) = actions.todays_losses(trader)
    assert loss.quote == "USDT"
    assert loss.loss > 0


def test_the_daily_loss_limit_stops_every_bot_exactly_once(
    trader: User, django_capture_on_commit_callbacks: Capture
) -> None:
    mine = losing_day(trader)
    set_rules(trader, daily_loss_limit=D("1"), daily_loss_action=LossAction.STOP_ALL)

    with django_capture_on_commit_callbacks(execute=True):
        assert check_daily_loss_limits() == 1
    # Restarted by hand the same day: the rule has acted today and leaves them be.
    for bot in mine:
        Bot.objects.filter(pk=bot.pk).update(status=BotStatus.RUNNING)
    with django_capture_on_commit_callbacks(execute=True):
        assert check_daily_loss_limits() == 0

    assert {Bot.objects.get(pk=b.pk).status for b in mine} == {BotStatus.RUNNING}
    for bot in mine:
        warnings = BotEvent.objects.filter(bot=bot, kind=BotEventKind.WARNING)
        assert warnings.count() == 1
        assert "reached your daily loss limit of 1" in warnings.get().message
        assert BotEvent.objects.filter(bot=bot, message__startswith="Emergency stop").count() == 1
    (notification,) = Notification.objects.filter(user=trader, kind=Kind.RISK_DAILY_LOSS)
    assert notification.severity == Severity.CRITICAL
    assert "2 bots stopping" in notification.body
    assert AuditEvent.objects.filter(actor=trader, action="risk.daily_loss_limit").count() == 1
    assert RiskRules.objects.get(user=trader).tripped_on == actions.local_today(trader, timezone.now())


def test_a_new_day_re_arms_the_limit(trader: User, django_capture_on_commit_callbacks: Capture) -> None:
    mine = losing_day(trader, bots=1)
    yesterday = actions.local_today(trader, timezone.now()) - timedelta(days=1)
    set_rules(trader, daily_loss_limit=D("1"), tripped_on=yesterday)

    with django_capture_on_commit_callbacks(execute=True):
        assert check_daily_loss_limits() == 1

    assert Bot.objects.get(pk=mine[0].pk).status in (BotStatus.STOPPING, BotStatus.STOPPED)
    assert Notification.objects.filter(user=trader, kind=Kind.RISK_DAILY_LOSS).count() == 1


def test_two_checks_at_once_claim_the_day_once(trader: User) -> None:
    rules = set_rules(trader, daily_loss_limit=D("1"))
    today = actions.local_today(trader, timezone.now())
    assert actions.claim_trip(rules, today) is True
    assert actions.claim_trip(rules, today) is False
    assert actions.claim_trip(rules, today + timedelta(days=1)) is True


def test_alert_only_notifies_and_stops_nothing(
    trader: User, django_capture_on_commit_callbacks: Capture
) -> None:
    mine = losing_day(trader)
    set_rules(trader, daily_loss_limit=D("1"), daily_loss_action=LossAction.ALERT)

    with django_capture_on_commit_callbacks(execute=True):
        assert check_daily_loss_limits() == 1
        assert check_daily_loss_limits() == 0

    assert {Bot.objects.get(pk=b.pk).status for b in mine} == {BotStatus.RUNNING}
    (notification,) = Notification.objects.filter(user=trader, kind=Kind.RISK_DAILY_LOSS)
    assert "keep running" in notification.body
    assert AuditEvent.objects.filter(actor=trader, action="risk.daily_loss_limit").count() == 1


def test_a_loss_below_the_limit_does_nothing(trader: User) -> None:
    mine = losing_day(trader, bots=1)
    set_rules(trader, daily_loss_limit=D("1000000"))
    assert check_daily_loss_limits() == 0
    assert Bot.objects.get(pk=mine[0].pk).status == BotStatus.RUNNING
    assert RiskRules.objects.get(user=trader).tripped_on is None


def test_one_traders_limit_never_stops_anothers_bots(trader: User) -> None:
    other = make_user(email="calm@example.com")
    theirs = running_bot(other, "their grid")
    losing_day(trader, bots=1)
    set_rules(trader, daily_loss_limit=D("1"))
    assert check_daily_loss_limits() == 1
    assert Bot.objects.get(pk=theirs.pk).status == BotStatus.RUNNING


# Refusals at start ------------------------------------------------------------------------


def test_the_per_symbol_limit_refuses_a_start_in_the_page(trader: User) -> None:
    running_bot(trader, "first")
    second = draft_bot(trader, "second")
    set_rules(trader, max_bots_per_symbol=1)

    response = client_for(trader).post(f"/bots/{second.pk}/start/", follow=True)

    assert "Your risk rules allow 1 running bot on BTCUSDT; 1 is running." in response.content.decode()
    assert Bot.objects.get(pk=second.pk).status == BotStatus.DRAFT


def test_the_per_symbol_limit_counts_only_the_same_symbol(trader: User) -> None:
    running_bot(trader, "first")
    set_rules(trader, max_bots_per_symbol=1)
    market.set_price("ETHUSDT", D("3000"))
    eth = draft_bot(
        trader, "eth", symbol="ETHUSDT", lower_price=D("2500"), upper_price=D("3500"), investment=D("500")
    )
    market.set_price("BTCUSDT", D("54000"))
    bot_actions.do_start_bot(eth)
    assert Bot.objects.get(pk=eth.pk).status == BotStatus.STARTING


def test_max_investment_refuses_a_start_in_the_api(trader: User) -> None:
    running_bot(trader, "first")  # 1,000 USDT
    second = draft_bot(trader, "second")
    set_rules(trader, max_total_investment=D("1500"))

    response = bearer(trader).post(f"/api/v1/bots/{second.pk}/start/")

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "risk_limit"
    assert "2,000, over your risk limit of 1,500 (1,000 already running)" in error["message"]
    assert Bot.objects.get(pk=second.pk).status == BotStatus.DRAFT


def test_max_investment_allows_a_start_that_fits(trader: User) -> None:
    running_bot(trader, "first")
    second = draft_bot(trader, "second")
    set_rules(trader, max_total_investment=D("2000"))
    bot_actions.do_start_bot(second)
    assert Bot.objects.get(pk=second.pk).status == BotStatus.STARTING


def test_the_engine_refuses_a_start_that_got_past_the_rules(trader: User) -> None:
    running_bot(trader, "first")
    sneaked = draft_bot(trader, "sneaked")
    set_rules(trader, max_bots_per_symbol=1)
    Bot.objects.filter(pk=sneaked.pk).update(status=BotStatus.STARTING, next_tick_at=timezone.now())

    engine.run_tick(sneaked.pk)

    sneaked.refresh_from_db()
    assert sneaked.status == BotStatus.ERROR
    assert "Your risk rules allow 1 running bot on BTCUSDT" in sneaked.status_reason
    assert not sneaked.orders.exists()


def test_another_traders_rules_do_not_limit_me(trader: User) -> None:
    other = make_user(email="strict@example.com")
    set_rules(other, max_bots_per_symbol=1, max_total_investment=D("1"))
    running_bot(trader, "first")
    second = draft_bot(trader, "second")
    bot_actions.do_start_bot(second)
    assert Bot.objects.get(pk=second.pk).status == BotStatus.STARTING
