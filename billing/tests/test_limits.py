"""Every limit refused where a trader meets it: the pages, the API and the engine's start."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from accounts.models import User
from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from billing.plans import PlanCode
from billing.tests.helpers import end_trial, put_on_plan
from bots import codec, engine
from bots.backtests import tasks as backtest_tasks
from bots.backtests.models import Backtest
from bots.models import Bot, BotStatus
from bots.tests.conftest import paper_account_for
from bots.tests.factories import grid_config
from bots.tests.test_api_backtests import BODY
from bots.tests.test_webhooks_pages import PUBLIC_URL
from bots.tests.test_wizard import review, worked_example
from bots.webhooks.models import WebhookEndpoint
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper import market

D = Decimal
pytestmark = pytest.mark.django_db


@pytest.fixture
def free_trader() -> User:
    """A trader whose trial has ended: the Free plan."""
    user = make_user(email="free@example.com")
    end_trial(user)
    return user


@pytest.fixture
def starter() -> User:
    user = make_user(email="starter@example.com")
    put_on_plan(user, PlanCode.STARTER)
    return user


def logged_in(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def bybit_account(owner: User, label: str = "Bybit") -> ExchangeAccount:
    account = ExchangeAccount(
        owner=owner, label=label, exchange=ExchangeName.BYBIT, environment=Environment.TESTNET
    )
    account.set_credentials("k" * 18, "s" * 36)
    account.save()
    return account


def bots(account: ExchangeAccount, count: int, status: str = BotStatus.RUNNING) -> list[Bot]:
    config = codec.config_to_json(grid_config())
    return [
        Bot.objects.create(
            owner=account.owner,
            exchange_account=account,
            name=f"Grid {account.pk}-{status}-{index}",
            symbol="BTCUSDT",
            config=config,
            status=status,
        )
        for index in range(count)
    ]


def assert_plan_limit(response: Any, limit: str, current: int, allowed: int) -> dict[str, Any]:
    assert response.status_code == 403, response.content
    error = error_of(response)
    assert error["code"] == "plan_limit"
    assert error["fields"]["limit"] == [limit]
    assert error["fields"]["current"] == [str(current)]
    assert error["fields"]["allowed"] == [str(allowed)]
    assert "/pricing/" in error["message"]
    return error


def assert_page_refusal(response: Any, words: str) -> None:
    page = response.content.decode()
    assert words in page
    assert 'class="message plan-limit error"' in page
    assert f'href="{reverse("pricing")}"' in page


# Live and paper bots --------------------------------------------------------------


def test_a_free_plan_cannot_start_a_live_bot_from_its_page(free_trader: User) -> None:
    (draft,) = bots(bybit_account(free_trader), 1, BotStatus.DRAFT)
    response = logged_in(free_trader).post(reverse("bot_start", args=[draft.pk]), follow=True)
    assert_page_refusal(
        response, "Your Free plan does not include live bots. The Starter plan lifts this limit."
    )
    draft.refresh_from_db()
    assert draft.status == BotStatus.DRAFT


def test_the_fourth_paper_bot_is_refused_on_free_and_the_third_starts(free_trader: User) -> None:
    market.set_price("BTCUSDT", D("54000"))
    account = paper_account_for(free_trader)
    bots(account, 2)
    third, fourth = bots(account, 2, BotStatus.STOPPED)
    client = logged_in(free_trader)
    client.post(reverse("bot_start", args=[third.pk]))
    third.refresh_from_db()
    assert third.status == BotStatus.STARTING
    response = client.post(reverse("bot_start", args=[fourth.pk]), follow=True)
    assert_page_refusal(response, "Your Free plan allows 3 paper bots; you have 3.")
    fourth.refresh_from_db()
    assert fourth.status == BotStatus.STOPPED


def test_the_wizard_keeps_a_refused_bot_as_a_draft_and_says_why(free_trader: User) -> None:
    market.set_price("BTCUSDT", D("54000"))
    account = paper_account_for(free_trader)
    bots(account, 3)
    client = logged_in(free_trader)
    data = worked_example(account, name="Fourth")
    token = review(client, data)
    response = client.post("/bots/new/", {**data, "token": token, "confirm": "1"}, follow=True)
    assert_page_refusal(response, "Your Free plan allows 3 paper bots; you have 3.")
    assert "“Fourth” is saved as a draft" in response.content.decode()
    assert Bot.objects.get(name="Fourth").status == BotStatus.DRAFT


def test_the_api_refuses_a_start_beyond_the_plan_with_plan_limit(starter: User) -> None:
    account = paper_account_for(starter)
    bots(account, 10)
    (extra,) = bots(account, 1, BotStatus.DRAFT)
    error = assert_plan_limit(
        bearer(starter).post(f"/api/v1/bots/{extra.pk}/start/"), "paper_bots", current=10, allowed=10
    )
    assert error["fields"]["upgrade_plan"] == ["pro"]
    extra.refresh_from_db()
    assert extra.status == BotStatus.DRAFT


def test_the_api_refuses_a_live_start_on_starter_past_three(starter: User) -> None:
    account = bybit_account(starter)
    bots(account, 3)
    (extra,) = bots(account, 1, BotStatus.STOPPED)
    assert_plan_limit(
        bearer(starter).post(f"/api/v1/bots/{extra.pk}/start/"), "live_bots", current=3, allowed=3
    )


def test_the_engine_refuses_a_start_that_got_past_the_pages(free_trader: User) -> None:
    """A bot put in `starting` without the actions (a restart, a race) never sends an order."""
    market.set_price("BTCUSDT", D("54000"))
    account = paper_account_for(free_trader)
    bots(account, 3)
    (sneaked,) = bots(account, 1, BotStatus.STARTING)
    engine.run_tick(sneaked.pk)
    sneaked.refresh_from_db()
    assert sneaked.status == BotStatus.ERROR
    assert "Your Free plan allows 3 paper bots; you have 3." in sneaked.status_reason
    assert "/pricing/" in sneaked.status_reason
    assert not sneaked.orders.exists()


def test_of_two_bots_starting_at_once_the_engine_keeps_the_earlier(free_trader: User) -> None:
    market.set_price("BTCUSDT", D("54000"))
    account = paper_account_for(free_trader)
    bots(account, 2)
    earlier, later = bots(account, 2, BotStatus.STARTING)
    engine.run_tick(later.pk)
    engine.run_tick(earlier.pk)
    earlier.refresh_from_db()
    later.refresh_from_db()
    assert later.status == BotStatus.ERROR
    assert earlier.status != BotStatus.ERROR
    assert earlier.orders.exists()


# Exchange accounts ------------------------------------------------------------------


def test_a_second_account_is_refused_on_free_in_the_page(free_trader: User) -> None:
    paper_account_for(free_trader)
    response = logged_in(free_trader).post(
        reverse("exchange_account_add"), {"exchange": "paper", "label": "Second"}, follow=True
    )
    assert response.status_code == 403
    assert_page_refusal(response, "Your Free plan allows 1 exchange account; you have 1.")
    assert ExchangeAccount.objects.filter(owner=free_trader).count() == 1


def test_the_add_account_page_says_so_before_a_key_is_typed(free_trader: User) -> None:
    paper_account_for(free_trader)
    response = logged_in(free_trader).get(reverse("exchange_account_add"))
    assert response.status_code == 200
    assert_page_refusal(response, "Your Free plan allows 1 exchange account; you have 1.")


def test_a_third_account_is_refused_on_starter_in_the_api(starter: User) -> None:
    paper_account_for(starter)
    bybit_account(starter)
    response = bearer(starter).post(
        "/api/v1/exchange-accounts/", {"exchange": "paper", "label": "Third"}, format="json"
    )
    assert_plan_limit(response, "exchange_accounts", current=2, allowed=2)
    assert ExchangeAccount.objects.filter(owner=starter).count() == 2


# Backtests ----------------------------------------------------------------------------


def test_backtests_are_counted_per_month(starter: User, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(backtest_tasks.run_backtest, "delay", lambda backtest_id: None)
    last_month = datetime(2020, 1, 15, tzinfo=UTC)
    row = {"config": {}, "symbol": "BTCUSDT", "interval": "5m", "start": last_month, "end": last_month}
    old = Backtest.objects.bulk_create([Backtest(owner=starter, venue="bybit", **row) for _ in range(60)])
    Backtest.objects.filter(pk__in=[b.pk for b in old]).update(created_at=last_month)
    client = bearer(starter)
    assert client.post("/api/v1/backtests/", BODY, format="json").status_code == 202
    Backtest.objects.bulk_create([Backtest(owner=starter, venue="bybit", **row) for _ in range(49)])
    response = client.post("/api/v1/backtests/", BODY, format="json")
    assert_plan_limit(response, "backtests_per_month", current=50, allowed=50)


# Webhooks and the API ---------------------------------------------------------------


def test_webhooks_are_refused_on_free_in_the_page(free_trader: User) -> None:
    response = logged_in(free_trader).post(
        reverse("webhooks"), {"url": PUBLIC_URL, "events": ["order.filled"], "enabled": "on"}, follow=True
    )
    assert_page_refusal(response, "Your Free plan does not include webhook endpoints.")
    assert not WebhookEndpoint.objects.filter(owner=free_trader).exists()


def test_webhooks_are_refused_on_free_in_the_api(free_trader: User) -> None:
    client = APIClient()
    client.force_login(free_trader)  # a browser session: the API's write access is not what stops it
    response = client.post(
        "/api/v1/webhooks/", {"url": PUBLIC_URL, "events": ["order.filled"]}, format="json"
    )
    assert_plan_limit(response, "webhooks", current=0, allowed=0)


def test_a_free_plans_token_reads_but_cannot_trade(free_trader: User) -> None:
    client = bearer(free_trader, "read,trade")
    assert client.get("/api/v1/bots/").status_code == 200
    response = client.post("/api/v1/exchange-accounts/", {"exchange": "paper", "label": "P"}, format="json")
    error = assert_plan_limit(response, "api_full_access", current=0, allowed=0)
    assert error["fields"]["upgrade_plan"] == ["starter"]


def test_the_token_rate_is_the_plans(free_trader: User, starter: User) -> None:
    free_client, starter_client = bearer(free_trader, "read"), bearer(starter, "read")
    for _ in range(60):
        assert free_client.get("/api/v1/fills/").status_code == 200
        assert starter_client.get("/api/v1/fills/").status_code == 200
    refused = free_client.get("/api/v1/fills/")
    assert refused.status_code == 429
    assert error_of(refused)["code"] == "throttled"
    assert starter_client.get("/api/v1/fills/").status_code == 200  # 300 a minute
