"""What can be announced, how loud it is, and where it goes unless the trader chose otherwise."""

from __future__ import annotations

from django.db import models


class Kind(models.TextChoices):
    # The bot events share their names with the webhook event types they mirror.
    BOT_STARTED = "bot.started", "Bot started"
    BOT_STOPPED = "bot.stopped", "Bot stopped"
    BOT_ERROR = "bot.error", "Bot error"
    BOT_TAKE_PROFIT = "bot.take_profit", "Take-profit reached"
    BOT_STOP_LOSS = "bot.stop_loss", "Stop-loss or maximum drawdown reached"
    ORDER_FILLED = "order.filled", "Order filled"
    DEAL_CLOSED = "deal.closed", "Deal closed"
    DAILY_SUMMARY = "summary.daily", "Daily summary"
    LIMIT_REACHED = "billing.limit_reached", "Plan or risk limit reached"
    PAYMENT_FAILED = "billing.payment_failed", "Payment failed"
    NEW_DEVICE_LOGIN = "security.new_login", "Sign-in from a new device"
    RISK_DAILY_LOSS = "risk.daily_loss", "Daily loss limit reached"
    PRICE_ALERT = "price.alert", "Price alert"


class Severity(models.TextChoices):
    CRITICAL = "critical", "Critical"
    ROUTINE = "routine", "Routine"


class Channel(models.TextChoices):
    IN_APP = "in_app", "In the app"
    EMAIL = "email", "Email"
    TELEGRAM = "telegram", "Telegram"
    # Webhooks keep their own endpoints, subscriptions and deliveries (bots.webhooks).
    WEBHOOK = "webhook", "Webhooks"


class Mode(models.TextChoices):
    ON = "on", "On"
    SILENT = "silent", "Silent"  # Telegram only: delivered without a sound
    OFF = "off", "Off"


CRITICAL_KINDS = frozenset(
    {
        Kind.BOT_ERROR,
        Kind.BOT_STOP_LOSS,
        Kind.LIMIT_REACHED,
        Kind.PAYMENT_FAILED,
        Kind.NEW_DEVICE_LOGIN,
        Kind.RISK_DAILY_LOSS,
    }
)

# Channels whose matrix lives here; webhooks subscribe per endpoint on their own page.
CONFIGURABLE_CHANNELS = (Channel.IN_APP, Channel.EMAIL, Channel.TELEGRAM)
MODES_BY_CHANNEL: dict[str, tuple[Mode, ...]] = {
    Channel.IN_APP: (Mode.ON, Mode.OFF),
    Channel.EMAIL: (Mode.ON, Mode.OFF),
    Channel.TELEGRAM: (Mode.ON, Mode.SILENT, Mode.OFF),
}

# Errors, stops, take-profit/stop-loss, billing and security reach the trader outside the app;
# fills are too many to be anything but opt-in.
_OUTSIDE_THE_APP = frozenset(
    {
        Kind.BOT_ERROR,
        Kind.BOT_STOPPED,
        Kind.BOT_TAKE_PROFIT,
        Kind.BOT_STOP_LOSS,
        Kind.LIMIT_REACHED,
        Kind.PAYMENT_FAILED,
        Kind.NEW_DEVICE_LOGIN,
        Kind.RISK_DAILY_LOSS,
        # Asked for by the trader: an alert they set, a summary at the hour they chose.
        Kind.PRICE_ALERT,
        Kind.DAILY_SUMMARY,
    }
)


def severity_of(kind: str) -> Severity:
    return Severity.CRITICAL if kind in CRITICAL_KINDS else Severity.ROUTINE


def default_mode(kind: str, channel: str) -> Mode:
    if kind == Kind.ORDER_FILLED:
        return Mode.OFF
    if channel == Channel.IN_APP:
        return Mode.ON
    return Mode.ON if kind in _OUTSIDE_THE_APP else Mode.OFF
