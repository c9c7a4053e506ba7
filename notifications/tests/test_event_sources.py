"""Where events happen, they are recorded: a start refused by the plan or by the risk rules (page,
API and engine), and a bot's take-profit and stop-loss exits."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from accounts.tests.api import bearer
from billing.entitlements import PlanLimitReached, subscription_for
from billing.models import SubscriptionStatus
from billing.plans import PlanCode
from bots import actions as bot_actions
from bots.models import Bot, BotStatus
from bots.tests.test_engine import started, tick
from exchanges.paper import market
from notifications import record
from notifications.events import Kind
from notifications.models import Notification
from risk.checks import RiskLimitReached
from risk.tests.test_rules import draft_bot, running_bot, set_rules

D = Decimal
Capture = Callable[..., Any]


@pytest.fixture(autouse=True)
def _no_celery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record, "enqueue", lambda delivery_ids: None)


def recorded(user: User, kind: str) -> list[Notification]:
    return list(Notification.objects.filter(user=user, kind=kind).order_by("pk"))


def test_a_start_the_risk_rules_refuse_is_recorded_once(
    world: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    owner = world.owner
    running_bot(owner, "first")
    second = draft_bot(owner, "second")
    set_rules(owner, max_bots_per_symbol=1)
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(2):  # pressing Start twice is one event
            with pytest.raises(RiskLimitReached):
                bot_actions.do_start_bot(second)
    (sent,) = recorded(owner, Kind.LIMIT_REACHED)
    assert sent.title == "second: not started, your risk rules reached"
    assert "allow 1 running bot on BTCUSDT" in sent.body
    assert sent.link == "/account/risk/"
    assert sent.severity == "critical"


def test_a_start_refused_through_the_page_and_the_api_is_recorded(
    world: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    owner = world.owner
    running_bot(owner, "first")
    second = draft_bot(owner, "second")
    set_rules(owner, max_bots_per_symbol=1)
    client = Client()
    client.force_login(owner)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/bots/{second.pk}/start/")
    assert len(recorded(owner, Kind.LIMIT_REACHED)) == 1
    Notification.objects.all().delete()
    with django_capture_on_commit_callbacks(execute=True):
        assert bearer(owner).post(f"/api/v1/bots/{second.pk}/start/").status_code == 409
    assert len(recorded(owner, Kind.LIMIT_REACHED)) == 1


def test_a_start_the_plan_refuses_is_recorded(
    world: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    owner = world.owner
    subscription = subscription_for(owner)
    subscription.plan, subscription.status = PlanCode.FREE, SubscriptionStatus.ACTIVE
    subscription.save()
    bots = [draft_bot(owner, f"grid {i}") for i in range(4)]  # Free runs 3 paper bots
    with django_capture_on_commit_callbacks(execute=True):
        refused = None
        for bot in bots:
            try:
                bot_actions.do_start_bot(bot)
            except PlanLimitReached:
                refused = bot
                break
    assert refused is not None, "the plan allowed every start"
    (sent,) = recorded(owner, Kind.LIMIT_REACHED)
    assert sent.title == f"{refused.name}: not started, your plan's limit reached"
    assert "plan allows" in sent.body
    assert sent.link == "/pricing/"
    assert sent.payload["rule"] == "plan"


def test_the_engines_refusal_by_the_risk_rules_is_recorded(
    world: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    owner = world.owner
    first = running_bot(owner, "first")
    second = draft_bot(owner, "second")
    bot_actions.do_start_bot(second)  # allowed now...
    Bot.objects.filter(pk=second.pk).update(created_at=first.created_at)
    set_rules(owner, max_bots_per_symbol=1)  # ...but the rules tighten before its first tick
    with django_capture_on_commit_callbacks(execute=True):
        second = tick(second)
    assert second.status == BotStatus.ERROR
    (sent,) = recorded(owner, Kind.LIMIT_REACHED)
    assert sent.payload == {
        "bot_id": second.pk,
        "bot_name": "second",
        "symbol": "BTCUSDT",
        "rule": "risk",
        "limit": "",
    }


def test_the_engines_refusal_by_the_plan_is_recorded(
    world: Any, django_capture_on_commit_callbacks: Capture
) -> None:
    owner = world.owner
    bot = draft_bot(owner, "grid")
    bot_actions.do_start_bot(bot)  # allowed on the trial...
    for i in range(3):  # Free runs 3 paper bots: these fill it
        running_bot(owner, f"older {i}")
    subscription = subscription_for(owner)
    subscription.plan, subscription.status = PlanCode.FREE, SubscriptionStatus.ACTIVE
    subscription.save()  # ...but the plan shrinks before its first tick
    with django_capture_on_commit_callbacks(execute=True):
        bot = tick(bot)
    assert bot.status == BotStatus.ERROR
    (sent,) = recorded(owner, Kind.LIMIT_REACHED)
    assert sent.payload["rule"] == "plan"
    assert sent.payload["bot_id"] == bot.pk
    assert sent.link == "/pricing/"


@pytest.mark.parametrize(
    ("config", "price", "kind"),
    [
        ({"take_profit_price": "66000"}, "66500", Kind.BOT_TAKE_PROFIT),
        ({"stop_loss_price": "44000"}, "43000", Kind.BOT_STOP_LOSS),
    ],
)
def test_the_engines_exits_are_recorded(
    world: Any, django_capture_on_commit_callbacks: Capture, config: dict[str, str], price: str, kind: str
) -> None:
    bot = draft_bot(world.owner, "exits")
    Bot.objects.filter(pk=bot.pk).update(config={**bot.config, **config})
    bot.refresh_from_db()
    with django_capture_on_commit_callbacks(execute=True):
        bot = started(bot)
        market.set_price("BTCUSDT", D(price))
        tick(bot)
    (sent,) = recorded(world.owner, kind)
    assert sent.payload["bot_id"] == bot.pk
