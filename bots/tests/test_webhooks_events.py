"""End to end: a paper bot's lifecycle and fills become signed deliveries to a local server."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from accounts.tests.factories import make_user
from bots import actions
from bots.models import Bot
from bots.strategies import grid
from bots.tests.conftest import grid_config, paper_account_for
from bots.tests.test_engine import started, tick
from bots.tests.test_webhooks_signing import independent_verify
from bots.tests.webhook_server import receiver
from bots.webhooks import actions as webhook_actions
from bots.webhooks import emit, tasks
from bots.webhooks.models import DeliveryStatus, WebhookDelivery, signing_secrets
from exchanges.paper import market

D = Decimal


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Deliveries handed to Celery after commit; the test runs the task itself."""
    ids: list[int] = []
    monkeypatch.setattr(emit, "enqueue", lambda delivery_ids: ids.extend(delivery_ids))
    return ids


def test_a_fill_is_delivered_signed_with_its_order_and_bot(
    paper_bot: Bot, settings: Any, queued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    bystander = make_user(email="no-hooks@example.com")
    market.set_price("BTCUSDT", D("54000"))
    other_account = paper_account_for(bystander)
    other = actions.do_create_bot(bystander, other_account, "Other", grid_config(), D("54000"))
    with receiver([200]) as server:
        endpoint = webhook_actions.do_create_endpoint(
            paper_bot.owner, url=server.url, events=["order.filled", "bot.started"]
        )
        with django_capture_on_commit_callbacks(execute=True):
            bot = started(paper_bot)
            started(other)
        buy = bot.orders.get(purpose="grid", price=D(53000))
        queued.clear()
        WebhookDelivery.objects.all().delete()

        with django_capture_on_commit_callbacks(execute=True):
            market.set_price("BTCUSDT", D("52900"))
            bot = tick(bot)
            tick(other)

        (delivery,) = WebhookDelivery.objects.all()
        assert queued == [delivery.pk]
        tasks.deliver_webhook(delivery.pk)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED
    (request,) = server.requests
    (secret,) = signing_secrets(endpoint)
    assert independent_verify(secret, request.headers["Gridwise-Signature"], request.body)
    event = json.loads(request.body)
    assert event["id"].startswith("evt_")
    assert event["type"] == "order.filled"
    assert isinstance(event["created"], int)
    data = event["data"]
    assert data["bot"] == {
        "id": bot.pk,
        "name": "BTC grid",
        "symbol": "BTCUSDT",
        "status": "running",
        "status_reason": "",
        "run": 1,
    }
    fill = buy.fills.get()
    assert data["fill"]["trade_id"] == fill.trade_id
    assert (data["fill"]["side"], D(data["fill"]["price"]), D(data["fill"]["quantity"])) == (
        "buy",
        D("53000"),
        buy.quantity,
    )
    assert isinstance(data["fill"]["price"], str)
    assert isinstance(data["fill"]["fee"], str)
    assert data["order"]["client_order_id"] == buy.client_order_id
    assert data["order"]["status"] == "filled"
    assert not WebhookDelivery.objects.filter(endpoint__owner=bystander).exists()


def test_lifecycle_events_map_to_their_types(
    paper_bot: Bot, settings: Any, queued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    every = ["bot.started", "bot.stopped", "bot.error", "bot.take_profit", "bot.stop_loss"]
    webhook_actions.do_create_endpoint(paper_bot.owner, url="https://93.184.216.34/hook", events=every)
    with django_capture_on_commit_callbacks(execute=True):
        bot = started(paper_bot)
        actions.do_exit_bot(bot, grid.ExitReason.MAX_DRAWDOWN)
        bot = tick(bot)
        bot = tick(bot)

    types = list(WebhookDelivery.objects.order_by("pk").values_list("event_type", flat=True))
    assert types == ["bot.started", "bot.stop_loss", "bot.stopped"]
    stop_loss = json.loads(WebhookDelivery.objects.get(event_type="bot.stop_loss").body)
    assert stop_loss["data"]["reason"] == "max_drawdown"
    assert len(queued) == 3

    with django_capture_on_commit_callbacks(execute=True):
        actions.do_start_bot(bot)
        actions.do_fail_bot(bot, "API key revoked.")
    error = json.loads(WebhookDelivery.objects.get(event_type="bot.error").body)
    assert error["data"]["bot"]["status_reason"] == "API key revoked."


def test_a_disabled_endpoint_gets_nothing(
    paper_bot: Bot, queued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    webhook_actions.do_create_endpoint(
        paper_bot.owner, url="https://93.184.216.34/hook", events=["bot.started"], enabled=False
    )
    with django_capture_on_commit_callbacks(execute=True):
        started(paper_bot)
    assert not WebhookDelivery.objects.exists()
