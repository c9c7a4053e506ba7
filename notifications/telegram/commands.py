"""What the bot answers: /start <token>, /stop, /status, /profit and /stopall.

`handle_update` takes an update however it arrived (webhook or long poll), handles it once per
update_id, and sends the reply after the transaction that recorded it committed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update

from accounts.models import User
from bots import actions as bot_actions
from bots.models import Bot as TradingBot
from notifications.models import TelegramLink, TelegramUpdate
from notifications.telegram import client, linking
from trading.numbers import fixed
from trading.overview import overview

logger = logging.getLogger(__name__)

STOP_ALL_CONFIRM_WINDOW = timedelta(seconds=60)
STOP_ALL_CALLBACK = "stopall:confirm"
HELP = (
    "/status: each bot's status and PnL\n"
    "/profit: today's and total PnL per quote asset\n"
    "/stopall: emergency-stop all your bots (asks first)\n"
    "/stop: unlink this chat"
)
REFUSED = (
    "Sorry, that link can't be used: a link works once, for 15 minutes. "
    "Open Gridwise, Account settings, Notifications, and press “Link Telegram” for a new one."
)


@dataclass
class Reply:
    chat_id: int
    text: str
    buttons: list[tuple[str, str]] = field(default_factory=list)  # (label, callback data)
    callback_query_id: str = ""


def handle_update(update: Update) -> Reply | None:
    """Handles the update unless it was handled before; sends and returns the reply."""
    try:
        with transaction.atomic():
            TelegramUpdate.objects.create(update_id=update.update_id)
            reply = answer(update)
    except IntegrityError:
        return None  # delivered again: handled already
    if reply is not None:
        send_reply(reply)
    return reply


def send_reply(reply: Reply) -> None:
    markup = (
        InlineKeyboardMarkup(
            [[InlineKeyboardButton(label, callback_data=data) for label, data in reply.buttons]]
        )
        if reply.buttons
        else None
    )

    async def send(bot: Bot) -> None:
        if reply.callback_query_id:
            await bot.answer_callback_query(reply.callback_query_id)
        await bot.send_message(reply.chat_id, reply.text, reply_markup=markup)

    try:
        client.call(send)
    except Exception:
        logger.warning("Could not send the Telegram reply to chat %s", reply.chat_id, exc_info=True)


def answer(update: Update) -> Reply | None:
    if update.callback_query is not None:
        query = update.callback_query
        if query.message is None or query.data != STOP_ALL_CALLBACK:
            return None
        reply = _linked_only(query.message.chat.id, lambda user, link: _confirm_stop_all(user, link))
        reply.callback_query_id = query.id
        return reply
    message = update.message
    if message is None or not message.text or message.chat.type != "private":
        return None
    chat_id = message.chat.id
    command, _, argument = message.text.strip().partition(" ")
    command = command.split("@", 1)[0].lower()  # "/status@GridwiseBot" in a menu
    argument = argument.strip()
    if command == "/start":
        username = (message.from_user.username if message.from_user else "") or ""
        return _start(chat_id, argument, username)
    if command == "/stop":
        unlinked = linking.do_unlink_chat(chat_id)
        text = (
            "Unlinked: this chat gets no more Gridwise notifications."
            if unlinked
            else "This chat is not linked."
        )
        return Reply(chat_id, text)
    if command == "/status":
        return _linked_only(chat_id, lambda user, link: Reply(chat_id, status_text(user)))
    if command == "/profit":
        return _linked_only(chat_id, lambda user, link: Reply(chat_id, profit_text(user)))
    if command == "/stopall":
        if argument.lower() == "confirm":
            return _linked_only(chat_id, _confirm_stop_all)
        return _linked_only(chat_id, _ask_stop_all)
    return _linked_only(chat_id, lambda user, link: Reply(chat_id, HELP))


def _settings_url() -> str:
    from notifications.channels import absolute

    return absolute(reverse("notification_settings"))


def _linked_only(chat_id: int, then: Callable[[User, TelegramLink], Reply]) -> Reply:
    link = TelegramLink.objects.select_related("user").filter(chat_id=chat_id).first()
    if link is None:
        return Reply(chat_id, f"Link your account first: {_settings_url()}")
    return then(link.user, link)


def _start(chat_id: int, token: str, username: str) -> Reply:
    if not token:
        if TelegramLink.objects.filter(chat_id=chat_id).exists():
            return Reply(chat_id, f"This chat is linked to Gridwise.\n{HELP}")
        return Reply(chat_id, f"Link your account first: {_settings_url()}")
    try:
        linking.do_link(token, chat_id, username)
    except linking.LinkRefused:
        return Reply(chat_id, REFUSED)
    return Reply(chat_id, f"Linked: your Gridwise notifications will arrive in this chat.\n{HELP}")


def status_text(user: User) -> str:
    """Each bot as the dashboard shows it: name, status, total PnL."""
    lines = overview(user).lines
    if not lines:
        return "You have no bots yet."
    rows = []
    for line in lines:
        pnl = f"{fixed(line.summary.total_pnl, signed=True)} {line.quote}" if line.summary else "no PnL yet"
        rows.append(f"{line.bot.name}: {line.status_label}, PnL {pnl}")
    return "\n".join(rows)


def profit_text(user: User) -> str:
    """The dashboard's totals, one line per quote asset: amounts in different quotes never add."""
    totals = overview(user).totals
    if not totals:
        return "No profit or loss yet."
    return "\n".join(
        f"{t.quote}: today {fixed(t.today_pnl, signed=True)}, total {fixed(t.total_pnl, signed=True)}, "
        f"grid profit {fixed(t.grid_profit, signed=True)}"
        for t in totals
    )


def _ask_stop_all(user: User, link: TelegramLink) -> Reply:
    count = TradingBot.objects.owned_by(user).filter(status__in=bot_actions.STOPPABLE).count()
    if not count:
        return Reply(link.chat_id, "No bot is running: nothing to stop.")
    link.stop_all_asked_at = timezone.now()
    link.save(update_fields=["stop_all_asked_at"])
    bots = f"{count} bot{'s' if count != 1 else ''}"
    return Reply(
        link.chat_id,
        f"Emergency-stop {bots}? Their orders will be cancelled. "
        "Press Confirm or send /stopall confirm within 60 seconds.",
        buttons=[("Confirm: stop all", STOP_ALL_CALLBACK)],
    )


def _confirm_stop_all(user: User, link: TelegramLink) -> Reply:
    asked = link.stop_all_asked_at
    if asked is None or timezone.now() - asked > STOP_ALL_CONFIRM_WINDOW:
        return Reply(
            link.chat_id, "Nothing to confirm (a confirmation lasts 60 seconds): send /stopall again."
        )
    link.stop_all_asked_at = None
    link.save(update_fields=["stop_all_asked_at"])
    stopped = bot_actions.do_stop_all(user)  # the dashboard's "Stop all"
    if not stopped:
        return Reply(link.chat_id, "No bot was running: nothing to stop.")
    bots = f"{len(stopped)} bot{'s' if len(stopped) != 1 else ''}"
    return Reply(link.chat_id, f"Emergency stop: {bots} stopping, their orders being cancelled.")
