"""A DCA deal's milestones: `deal.opened` once its base order has filled, `deal.closed` with its
record, each once, as webhooks to a local server and as the trader's notification."""

from __future__ import annotations

import json
from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest

from accounts.models import User
from bots.strategies import dca
from bots.tests.test_dca_engine import CONFIG, dca_bot, tick
from bots.tests.webhook_server import receiver
from bots.webhooks import actions as webhook_actions
from bots.webhooks import emit, tasks
from bots.webhooks.models import DeliveryStatus, WebhookDelivery
from exchanges.base import OrderType, Side
from exchanges.paper import market
from notifications.models import Notification

D = Decimal


def opening(deal: int = 1) -> dca.DcaState:
    base = dca.LiveOrder(0, 0, Side.BUY, D(54000), D("0.001"), OrderType.MARKET)
    return dca.DcaState(
        dca.Phase.OPENING, deal=deal, seq=1, orders=(base,), opened_at="2026-12-06T10:00:00+00:00"
    )


def opened(deal: int = 1) -> dca.DcaState:
    take_profit = dca.LiveOrder(CONFIG.tp_slot, 3, Side.SELL, D("54540.1"), D("0.001"))
    return replace(
        opening(deal),
        phase=dca.Phase.OPEN,
        orders=(take_profit,),
        reference_price=D(54000),
        entry_quantity=D("0.001"),
        entry_value=D("54.054"),
    )


def closed(deal: int = 1) -> dca.DcaState:
    record = dca.DealRecord(
        number=deal,
        opened_at="2026-12-06T10:00:00+00:00",
        closed_at="2026-12-06T10:02:05+00:00",
        reason=dca.CloseReason.TAKE_PROFIT,
        safety_orders_used=0,
        average_entry=D("54054"),
        quantity=D("0.001"),
        entry_value=D("54.054"),
        exit_value=D("54.485"),
        profit=D("0.431"),
    )
    return replace(opening(deal), phase=dca.Phase.WAITING, orders=(), deals_closed=deal, history=(record,))


def events(before: dca.DcaState, after: dca.DcaState) -> list[str]:
    return [milestone.event for milestone in dca.milestones(CONFIG, before, after)]


def test_a_deal_opens_when_its_base_order_fills_not_when_it_is_sent() -> None:
    waiting = dca.DcaState(dca.Phase.WAITING, deal=0, seq=0)
    assert events(waiting, opening()) == []
    [milestone] = dca.milestones(CONFIG, opening(), opened())
    assert milestone.event == "deal.opened"
    assert milestone.data["number"] == 1
    assert milestone.data["base_order_price"] == "54000"
    assert milestone.data["average_entry"] == str(D("54.054") / D("0.001"))
    assert milestone.data["take_profit_price"] == "54540.1"
    assert events(opened(), opened()) == []  # a later change to the open deal announces nothing


def test_a_closed_deal_is_announced_with_its_record_and_duration() -> None:
    [milestone] = dca.milestones(CONFIG, opened(), closed())
    assert milestone.event == "deal.closed"
    assert milestone.data["number"] == 1
    assert milestone.data["reason"] == "take_profit"
    assert milestone.data["profit"] == "0.431"
    assert milestone.data["duration_seconds"] == 125
    assert events(closed(), closed()) == []


def test_a_deal_that_opened_and_closed_between_two_states_is_announced_both_ways_in_order() -> None:
    assert events(opening(), closed()) == ["deal.opened", "deal.closed"]
    next_open = replace(opened(2), deals_closed=1, history=closed().history)
    assert events(opened(), next_open) == ["deal.closed", "deal.opened"]


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    ids: list[int] = []
    monkeypatch.setattr(emit, "enqueue", lambda delivery_ids: ids.extend(delivery_ids))
    return ids


def test_a_deal_on_the_paper_venue_is_delivered_opened_then_closed_once_each(
    trader: User, settings: Any, queued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    settings.WEBHOOKS_ALLOW_PRIVATE_URLS = True
    config = replace(CONFIG, max_deals=1)
    with receiver([200] * 10) as server:
        webhook_actions.do_create_endpoint(trader, url=server.url, events=["deal.opened", "deal.closed"])
        with django_capture_on_commit_callbacks(execute=True):
            bot = dca_bot(trader, config)
            tick(bot, 3)  # the start, the base order, the deal laid out
            tick(bot)  # nothing new: nothing announced again
            market.set_price("BTCUSDT", D(55000))  # the take-profit fills
            state = tick(bot, 2)
            tick(bot)
        assert state.deals_closed == 1
        deliveries = list(WebhookDelivery.objects.order_by("pk"))
        assert [d.event_type for d in deliveries] == ["deal.opened", "deal.closed"]
        for delivery in deliveries:
            tasks.deliver_webhook(delivery.pk)

    assert [WebhookDelivery.objects.get(pk=d.pk).status for d in deliveries] == [DeliveryStatus.SUCCEEDED] * 2
    opened_event, closed_event = (json.loads(request.body) for request in server.requests)
    assert opened_event["type"] == "deal.opened"
    assert opened_event["data"]["bot"]["id"] == bot.pk
    assert opened_event["data"]["deal"]["number"] == 1
    assert D(opened_event["data"]["deal"]["base_order_price"]) == D(54027)  # the paper venue's ask
    [record] = state.history
    deal = closed_event["data"]["deal"]
    assert (deal["number"], deal["reason"], D(deal["profit"])) == (1, "take_profit", record.profit)
    assert D(deal["average_entry"]) == record.average_entry

    [notice] = Notification.objects.filter(user=trader, kind="deal.closed")
    assert notice.title.startswith("BTC DCA: deal #1 closed by take profit")
    assert notice.title.endswith(" USDT")
    assert f"+{record.profit.quantize(D('0.01'))}" in notice.title
