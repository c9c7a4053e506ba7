"""The events a webhook endpoint can subscribe to, and how live bot events map onto them."""

from __future__ import annotations

from django.db import models


class EventType(models.TextChoices):
    BOT_STARTED = "bot.started", "Bot started"
    BOT_STOPPED = "bot.stopped", "Bot stopped"
    BOT_ERROR = "bot.error", "Bot error"
    ORDER_FILLED = "order.filled", "Order filled"
    BOT_TAKE_PROFIT = "bot.take_profit", "Take-profit reached"
    BOT_STOP_LOSS = "bot.stop_loss", "Stop-loss or maximum drawdown reached"
    DEAL_OPENED = "deal.opened", "DCA deal opened"
    DEAL_CLOSED = "deal.closed", "DCA deal closed"
    # Never subscribed to: sent only by the "Send test ping" button.
    PING = "ping", "Test ping"


SUBSCRIBABLE = tuple(choice for choice in EventType if choice is not EventType.PING)

STATUS_EVENTS: dict[str, EventType] = {
    "running": EventType.BOT_STARTED,
    "stopped": EventType.BOT_STOPPED,
    "error": EventType.BOT_ERROR,
}

EXIT_EVENTS: dict[str, EventType] = {
    "take_profit": EventType.BOT_TAKE_PROFIT,
    "stop_loss": EventType.BOT_STOP_LOSS,
    "max_drawdown": EventType.BOT_STOP_LOSS,
    # A futures bot's guard is a stop-loss at the liquidation price's doorstep; the payload's
    # reason tells it apart.
    "liquidation_guard": EventType.BOT_STOP_LOSS,
}
