"""Turns a bot's committed changes into webhook deliveries, and into notifications
(`bots.notices`): webhooks are one channel of the notifications layer, with their own
endpoints, subscriptions and deliveries.

`bots.live.publish` (status changes, fills) and `bots.actions.do_exit_bot` (exits) call in
here inside their transaction; everything else happens after commit. A bot whose owner has
no enabled endpoint costs one cached lookup, after commit, and nothing else.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable
from typing import Any

from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction

from bots import notices
from bots.webhooks.events import EXIT_EVENTS, STATUS_EVENTS, EventType
from bots.webhooks.models import WebhookDelivery, WebhookEndpoint, new_event_id
from notifications.events import Kind

logger = logging.getLogger(__name__)

HAS_ENDPOINTS_TTL = 600


def _has_endpoints_key(owner_id: int) -> str:
    return f"webhooks:has-endpoints:{owner_id}"


def owner_has_endpoints(owner_id: int) -> bool:
    key = _has_endpoints_key(owner_id)
    known = cache.get(key)
    if known is None:
        known = WebhookEndpoint.objects.filter(owner_id=owner_id, enabled=True).exists()
        cache.set(key, known, HAS_ENDPOINTS_TTL)
    return bool(known)


def forget_endpoints(owner_id: int) -> None:
    """Call when an owner's endpoints change; again after commit so no reader caches the old answer."""
    cache.delete(_has_endpoints_key(owner_id))
    transaction.on_commit(lambda: cache.delete(_has_endpoints_key(owner_id)))


def event_for(kind: str, payload: dict[str, Any]) -> EventType | None:
    if kind == "status":
        return STATUS_EVENTS.get(str(payload.get("status")))
    if kind == "fill":
        return EventType.ORDER_FILLED
    if kind == "milestone" and payload.get("event") in EventType.values:
        return EventType(payload["event"])
    return None


def on_bot_event(bot: Any, kind: str, payload: dict[str, Any]) -> None:
    """Called with every live event; only the ones webhooks carry are kept, after commit."""
    event_type = event_for(kind, payload)
    if event_type is not None:
        _after_commit(bot.owner_id, bot.pk, event_type, dict(payload))
        if event_type.value in Kind.values:
            notices.after_commit(bot, event_type.value, payload)


def on_bot_exit(bot: Any, reason: str) -> None:
    _after_commit(bot.owner_id, bot.pk, EXIT_EVENTS[reason], {"reason": reason})
    notices.after_commit(bot, EXIT_EVENTS[reason].value, {"reason": reason})


def _after_commit(owner_id: int, bot_id: int, event_type: EventType, payload: dict[str, Any]) -> None:
    # robust: a webhook problem is logged, never raised into the tick that committed the change.
    transaction.on_commit(lambda: _emit(owner_id, bot_id, event_type, payload), robust=True)


def _emit(owner_id: int, bot_id: int, event_type: EventType, payload: dict[str, Any]) -> None:
    if not owner_has_endpoints(owner_id):
        return
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.filter(owner_id=owner_id, enabled=True)
        if endpoint.subscribes_to(event_type)
    ]
    if not endpoints:
        return
    data = event_data(bot_id, event_type, payload)
    if data is not None:
        create_deliveries(endpoints, event_type, data)


def event_data(bot_id: int, event_type: EventType, payload: dict[str, Any]) -> dict[str, Any] | None:
    from bots.models import Bot
    from trading.models import Fill

    bot = Bot.objects.filter(pk=bot_id).first()
    if bot is None:
        return None
    data: dict[str, Any] = {"bot": bot_data(bot)}
    if event_type == EventType.ORDER_FILLED:
        fill = (
            Fill.objects.filter(bot_id=bot_id, trade_id=payload.get("trade_id"))
            .select_related("order")
            .first()
        )
        if fill is None:
            return None
        data.update(fill=fill_data(fill), order=order_data(fill.order))
    elif event_type in (EventType.BOT_TAKE_PROFIT, EventType.BOT_STOP_LOSS):
        data["reason"] = payload["reason"]
    elif event_type in (EventType.DEAL_OPENED, EventType.DEAL_CLOSED):
        data["deal"] = payload["details"]
    return data


def bot_data(bot: Any) -> dict[str, Any]:
    return {
        "id": bot.pk,
        "name": bot.name,
        "symbol": bot.symbol,
        "status": bot.status,
        "status_reason": bot.status_reason,
        "run": bot.run,
    }


def fill_data(fill: Any) -> dict[str, Any]:
    return {
        "trade_id": fill.trade_id,
        "symbol": fill.symbol,
        "side": fill.side,
        "price": fill.price,
        "quantity": fill.quantity,
        "fee": fill.fee,
        "fee_asset": fill.fee_asset,
        "is_maker": fill.is_maker,
        "time": fill.time,
    }


def order_data(order: Any) -> dict[str, Any]:
    return {
        "client_order_id": order.client_order_id,
        "exchange_order_id": order.exchange_order_id,
        "side": order.side,
        "type": order.order_type,
        "purpose": order.purpose,
        "price": order.price,
        "quantity": order.quantity,
        "filled_quantity": order.filled_quantity,
        "average_price": order.average_price,
        "status": order.status,
    }


def event_body(event_id: str, event_type: str, data: dict[str, Any], created: int | None = None) -> str:
    """The JSON sent; DjangoJSONEncoder writes Decimals as strings and datetimes as ISO 8601."""
    envelope = {"id": event_id, "type": event_type, "created": created or int(time.time()), "data": data}
    return json.dumps(envelope, cls=DjangoJSONEncoder, separators=(",", ":"))


def create_deliveries(
    endpoints: Iterable[WebhookEndpoint],
    event_type: str,
    data: dict[str, Any],
    *,
    max_attempts: int | None = None,
) -> list[WebhookDelivery]:
    """One event (one id) to each endpoint, committed, then queued for sending."""
    from bots.webhooks.delivery import MAX_ATTEMPTS

    event_id = new_event_id()
    body = event_body(event_id, event_type, data)
    with transaction.atomic():
        deliveries = [
            WebhookDelivery.objects.create(
                endpoint=endpoint,
                event_id=event_id,
                event_type=event_type,
                body=body,
                max_attempts=max_attempts or MAX_ATTEMPTS,
            )
            for endpoint in endpoints
        ]
        transaction.on_commit(lambda: enqueue([delivery.pk for delivery in deliveries]))
    return deliveries


def enqueue(delivery_ids: Iterable[int]) -> None:
    from bots.webhooks.tasks import deliver_webhook

    for delivery_id in delivery_ids:
        try:
            deliver_webhook.delay(delivery_id)
        except Exception:
            # The row is committed and due: the sweep sends it.
            logger.warning("Could not queue webhook delivery %s; the sweep will.", delivery_id, exc_info=True)
