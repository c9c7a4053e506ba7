"""A bot's events as notifications to its owner (in the app, by email, ...), after commit.

Webhooks carry the same events through `bots.webhooks.emit`; this is the trader-facing side.
Each event is named by what happened (the bot, its run and status; a fill's trade id), so a
report that arrives twice is recorded once.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.urls import reverse

from config.wording import wait_phrase
from notifications.events import Kind
from notifications.record import record

EXIT_WORDS = {
    "take_profit": "reached its take-profit and is stopping.",
    "stop_loss": "hit its stop-loss and is stopping.",
    "max_drawdown": "reached its maximum drawdown and is stopping.",
    "liquidation_guard": "came within your distance of its liquidation price and is closing its position.",
}
STATUS_WORDS = {
    Kind.BOT_STARTED: "is running.",
    Kind.BOT_STOPPED: "has stopped.",
    Kind.BOT_ERROR: "stopped with an error.",
}


def after_commit(bot: Any, kind: str, payload: dict[str, Any]) -> None:
    owner_id, bot_id, run = bot.owner_id, bot.pk, bot.run
    transaction.on_commit(lambda: notify(owner_id, bot_id, run, kind, dict(payload)), robust=True)


def notify(owner_id: int, bot_id: int, run: int, kind: str, payload: dict[str, Any]) -> None:
    from bots.models import Bot

    bot = Bot.objects.filter(pk=bot_id).first()
    if bot is None:
        return
    link = reverse("bot_detail", args=[bot_id])
    data: dict[str, Any] = {"bot_id": bot_id, "bot_name": bot.name, "symbol": bot.symbol, "run": run}
    if kind == Kind.ORDER_FILLED:
        fill = _fill_sentence(bot_id, str(payload.get("trade_id")))
        if fill is None:
            return
        sentence, fill_data = fill
        data.update(fill_data)
        key = f"fill:{bot_id}:{payload.get('trade_id')}"
        record(owner_id, kind, key, title=f"{bot.name}: {sentence}", link=link, payload=data)
        return
    if kind == Kind.DEAL_CLOSED:
        deal = payload["details"]
        key = f"deal:{bot_id}:run:{run}:{deal['number']}"
        data["deal"] = deal
        quote = (bot.ledger or {}).get("quote_asset", "")
        record(
            owner_id, kind, key, title=f"{bot.name}: {_deal_sentence(deal, quote)}", link=link, payload=data
        )
        return
    if "reason" in payload:  # an exit
        body = f"{bot.name} ({bot.symbol}) {EXIT_WORDS.get(payload['reason'], 'is stopping.')}"
        data["reason"] = payload["reason"]
    else:
        body = f"{bot.name} ({bot.symbol}) {STATUS_WORDS.get(Kind(kind), '')}"
        if bot.status_reason:
            body += f" {bot.status_reason}"
            data["status_reason"] = bot.status_reason
    key = f"bot:{bot_id}:run:{run}:{kind}"
    record(
        owner_id,
        kind,
        key,
        title=f"{bot.name}: {Kind(kind).label.lower()}",
        body=body,
        link=link,
        payload=data,
    )


def _fill_sentence(bot_id: int, trade_id: str) -> tuple[str, dict[str, Any]] | None:
    from trading.models import Fill
    from trading.numbers import exact

    fill = Fill.objects.filter(bot_id=bot_id, trade_id=trade_id).first()
    if fill is None:
        return None
    verb = "bought" if fill.side == "buy" else "sold"
    sentence = f"{verb} {exact(fill.quantity)} {fill.symbol} at {exact(fill.price)}"
    return sentence, {"trade_id": trade_id, "side": fill.side, "price": fill.price, "quantity": fill.quantity}


def _deal_sentence(deal: dict[str, Any], quote: str) -> str:
    """ "deal #3 closed by take profit after 2 minutes: +1.23 USDT" """
    from bots.deals import CLOSED_BY
    from bots.strategies.dca import CloseReason
    from trading.templatetags.money import format_amount

    how = CLOSED_BY[CloseReason(deal["reason"])].lower()
    after = f" after {wait_phrase(deal['duration_seconds'])}" if deal.get("duration_seconds") else ""
    profit = format_amount(deal["profit"], signed=True)
    return f"deal #{deal['number']} closed by {how}{after}: {profit} {quote}".rstrip()
