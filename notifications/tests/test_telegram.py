"""Telegram end to end: python-telegram-bot talks HTTP to the local Bot API server
(notifications/telegram/local_api.py); nothing of ours is patched."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from accounts.tests.factories import make_user
from bots.models import Bot, BotStatus
from bots.tests.test_dashboard import running_bot
from notifications import preferences, record, tasks
from notifications.events import Channel, Kind, Mode
from notifications.models import (
    Delivery,
    DeliveryStatus,
    Notification,
    TelegramLink,
    TelegramLinkToken,
    TelegramUpdate,
)
from notifications.telegram import limits, linking
from notifications.telegram.local_api import LocalBotApi
from notifications.telegram.polling import poll_once
from trading.numbers import fixed
from trading.overview import overview

SECRET = "webhook-secret-for-tests"
ALICE_CHAT = 7001
BOB_CHAT = 7002


@pytest.fixture
def api(settings: Any) -> Iterator[LocalBotApi]:
    with LocalBotApi() as server:
        settings.TELEGRAM_API_BASE = server.api_base
        settings.TELEGRAM_BOT_TOKEN = server.token
        settings.TELEGRAM_BOT_USERNAME = ""  # asked of getMe
        settings.TELEGRAM_WEBHOOK_SECRET = SECRET
        yield server


class Chat:
    """A person typing to the bot in one chat; updates go through getUpdates like `telegram_poll`."""

    def __init__(self, api: LocalBotApi, chat_id: int, username: str) -> None:
        self.api, self.chat_id, self.username = api, chat_id, username
        self.offset = 0

    def say(self, text: str) -> str:
        before = len(self.api.sent(self.chat_id))
        self.api.inject_message(self.chat_id, text, self.username)
        self.offset = poll_once(self.offset, timeout=2)
        return str(self.api.wait_for_message(self.chat_id, before + 1)[-1]["text"])

    def press(self, data: str) -> str:
        before = len(self.api.sent(self.chat_id))
        self.api.inject_callback(self.chat_id, data, self.username)
        self.offset = poll_once(self.offset, timeout=2)
        return str(self.api.wait_for_message(self.chat_id, before + 1)[-1]["text"])


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def link_from_the_page(user: User) -> str:
    """Presses "Link Telegram" and reads the deep link the page shows."""
    client = client_for(user)
    assert client.post("/account/notifications/telegram/link/").status_code == 302
    page = client.get("/account/notifications/").content.decode()
    found = re.search(r'href="(https://t\.me/(\w+)\?start=([A-Za-z0-9_-]+))"', page)
    assert found is not None, page
    assert found[2] == "GridwiseLocalBot"  # from getMe
    return found[3]


def deliver_all(user: User) -> None:
    for delivery in Delivery.objects.filter(notification__user=user, status=DeliveryStatus.PENDING):
        tasks.deliver_notification(delivery.pk)


def announce(user: User, kind: str, key: str, title: str, body: str = "") -> Notification:
    notification = record.record(user.pk, kind, key, title=title, body=body, link="/bots/1/")
    assert notification is not None
    return notification


@pytest.mark.django_db(transaction=True)
def test_link_alert_silence_status_stopall_and_unlink(api: LocalBotApi) -> None:
    alice = make_user(email="alice@example.com")
    first, second = running_bot(alice, "BTC grid"), running_bot(alice, "Second grid")
    token = link_from_the_page(alice)
    assert len(token) <= 64
    assert re.fullmatch(r"[A-Za-z0-9_-]+", token)
    chat = Chat(api, ALICE_CHAT, "alice_trades")

    assert chat.say(f"/start {token}").startswith("Linked")
    assert TelegramLink.objects.get(user=alice).chat_id == ALICE_CHAT
    page = client_for(alice).get("/account/notifications/").content.decode()
    assert "Linked to <strong>@alice_trades</strong> since" in page
    assert "Unlink Telegram" in page

    # A take-profit reaches the chat within seconds, with a sound.
    sent_before = len(api.sent(ALICE_CHAT))
    started = time.monotonic()
    announce(alice, Kind.BOT_TAKE_PROFIT, "tp:1", "BTC grid: take-profit reached", "Sold at 61,000 USDT.")
    deliver_all(alice)
    message = api.wait_for_message(ALICE_CHAT, sent_before + 1, timeout=5)[-1]
    assert time.monotonic() - started < 5
    assert message["text"].startswith("BTC grid: take-profit reached\nSold at 61,000 USDT.\nhttp")
    assert message["disable_notification"] is False

    # Fills are off by default; set to silent, they arrive without a sound.
    assert announce_fill(alice, "fill:1") is None
    preferences.set_mode(alice.pk, Kind.ORDER_FILLED, Channel.TELEGRAM, Mode.SILENT)
    assert announce_fill(alice, "fill:2") is not None
    deliver_all(alice)
    fill = api.wait_for_message(ALICE_CHAT, sent_before + 2)[-1]
    assert fill["text"].startswith("BTC grid: buy filled")
    assert fill["disable_notification"] is True

    # /status and /profit show the dashboard's figures.
    status = chat.say("/status")
    for line in overview(alice).lines:
        assert line.summary is not None
        assert f"{line.bot.name}: Running, PnL {fixed(line.summary.total_pnl, signed=True)} USDT" in status
    profit = chat.say("/profit")
    totals = overview(alice).totals[0]
    assert profit == (
        f"USDT: today {fixed(totals.today_pnl, signed=True)}, total {fixed(totals.total_pnl, signed=True)}, "
        f"grid profit {fixed(totals.grid_profit, signed=True)}"
    )

    # /stopall asks first; nothing stops until it is confirmed.
    ask = chat.say("/stopall")
    assert "Emergency-stop 2 bots?" in ask
    button = api.sent(ALICE_CHAT)[-1]["reply_markup"]["inline_keyboard"][0][0]
    assert button["callback_data"] == "stopall:confirm"
    assert set(Bot.objects.filter(owner=alice).values_list("status", flat=True)) == {BotStatus.RUNNING}
    assert chat.press("stopall:confirm").startswith("Emergency stop: 2 bots stopping")
    for bot in (first, second):
        bot.refresh_from_db()
        assert bot.status == BotStatus.STOPPING
    assert "Nothing to confirm" in chat.say("/stopall confirm")  # used up

    # /stop unbinds: no more alerts go there, and commands ask to link first.
    assert chat.say("/stop").startswith("Unlinked")
    assert not TelegramLink.objects.filter(user=alice).exists()
    count = len(api.sent(ALICE_CHAT))
    announce(alice, Kind.BOT_ERROR, "error:1", "BTC grid: bot error")
    deliver_all(alice)
    assert len(api.sent(ALICE_CHAT)) == count
    assert chat.say("/status").startswith("Link your account first: http")


def announce_fill(user: User, key: str) -> Notification | None:
    title, body = "BTC grid: buy filled", "0.01 BTC at 53,000"
    return record.record(user.pk, Kind.ORDER_FILLED, key, title=title, body=body)


@pytest.mark.django_db(transaction=True)
def test_stopall_confirmation_expires_after_a_minute(api: LocalBotApi) -> None:
    alice = make_user(email="alice@example.com")
    running_bot(alice)
    chat = Chat(api, ALICE_CHAT, "alice")
    chat.say(f"/start {linking.do_create_token(alice.pk)}")
    chat.say("/stopall")
    TelegramLink.objects.filter(user=alice).update(stop_all_asked_at=timezone.now() - timedelta(seconds=61))

    assert "Nothing to confirm" in chat.say("/stopall confirm")
    assert Bot.objects.get(owner=alice).status == BotStatus.RUNNING


@pytest.mark.django_db(transaction=True)
def test_a_token_works_once_not_after_15_minutes_and_cannot_be_guessed(api: LocalBotApi) -> None:
    alice = make_user(email="alice@example.com")
    token = linking.do_create_token(alice.pk)
    assert TelegramLinkToken.objects.get().token_hash == linking.hash_token(token) != token
    guessed = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert chat_says(api, BOB_CHAT, f"/start {guessed}").startswith("Sorry")
    assert chat_says(api, BOB_CHAT, "/start " + "x" * 65).startswith("Sorry")
    assert not TelegramLink.objects.exists()

    assert chat_says(api, ALICE_CHAT, f"/start {token}").startswith("Linked")
    assert chat_says(api, BOB_CHAT, f"/start {token}").startswith("Sorry")  # reused
    assert TelegramLink.objects.get().chat_id == ALICE_CHAT

    late = linking.do_create_token(alice.pk)
    TelegramLinkToken.objects.filter(token_hash=linking.hash_token(late)).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert chat_says(api, BOB_CHAT, f"/start {late}").startswith("Sorry")
    assert TelegramLink.objects.get().chat_id == ALICE_CHAT


def chat_says(api: LocalBotApi, chat_id: int, text: str) -> str:
    return Chat(api, chat_id, f"user{chat_id}").say(text)


@pytest.mark.django_db(transaction=True)
def test_another_users_chat_never_gets_my_alerts(api: LocalBotApi) -> None:
    alice, bob = make_user(email="alice@example.com"), make_user(email="bob@example.com")
    chat_says(api, ALICE_CHAT, f"/start {linking.do_create_token(alice.pk)}")
    chat_says(api, BOB_CHAT, f"/start {linking.do_create_token(bob.pk)}")
    bob_before = len(api.sent(BOB_CHAT))

    announce(alice, Kind.BOT_ERROR, "error:alice", "Alice's grid: bot error")
    deliver_all(alice)

    assert api.wait_for_message(ALICE_CHAT, 2)[-1]["text"].startswith("Alice's grid: bot error")
    assert len(api.sent(BOB_CHAT)) == bob_before
    # Bob's /status shows Bob's bots (none), never Alice's.
    running_bot(alice, "Alice's grid")
    assert chat_says(api, BOB_CHAT, "/status") == "You have no bots yet."


@pytest.mark.django_db(transaction=True)
def test_unlinked_chats_are_asked_to_link_first(api: LocalBotApi) -> None:
    for command in ("/status", "/profit", "/stopall", "/stopall confirm", "/start"):
        assert chat_says(api, BOB_CHAT, command).startswith("Link your account first: http")


def webhook(client: Client, update: dict[str, Any], secret: str | None) -> int:
    headers = {"X-Telegram-Bot-Api-Secret-Token": secret} if secret is not None else {}
    body = json.dumps(update)
    response = client.post("/telegram/webhook/", body, content_type="application/json", headers=headers)
    return response.status_code


def start_update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": "private"},
            "from": {"id": chat_id, "is_bot": False, "first_name": "A", "username": "alice"},
            "text": text,
            "entities": [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}],
        },
    }


@pytest.mark.django_db(transaction=True)
def test_the_webhook_checks_the_secret_and_handles_each_update_once(api: LocalBotApi) -> None:
    alice = make_user(email="alice@example.com")
    client = Client()
    token = linking.do_create_token(alice.pk)
    update = start_update(501, ALICE_CHAT, f"/start {token}")

    assert webhook(client, update, None) == 403
    assert webhook(client, update, "wrong") == 403
    assert webhook(client, update, SECRET[:-1]) == 403
    assert not TelegramLink.objects.exists()
    assert api.sent(ALICE_CHAT) == []

    assert webhook(client, update, SECRET) == 200
    assert TelegramLink.objects.get().user == alice
    assert webhook(client, update, SECRET) == 200  # Telegram delivered it again
    assert len(api.sent(ALICE_CHAT)) == 1
    assert webhook(client, {"nonsense": True}, SECRET) == 400


@pytest.mark.django_db(transaction=True)
def test_a_429_reschedules_the_delivery_at_retry_after(api: LocalBotApi) -> None:
    alice = make_user(email="alice@example.com")
    chat_says(api, ALICE_CHAT, f"/start {linking.do_create_token(alice.pk)}")
    api.throttle(count=1, retry_after=7)
    notification = announce(alice, Kind.BOT_ERROR, "error:429", "BTC grid: bot error")
    delivery = notification.deliveries.get(channel=Channel.TELEGRAM)

    before = timezone.now()
    assert tasks.attempt_delivery(delivery.pk) == 7.0
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert "retry after 7" in delivery.last_error
    assert delivery.next_attempt_at is not None
    assert timedelta(seconds=6.5) < delivery.next_attempt_at - before < timedelta(seconds=8)
    assert len(api.sent(ALICE_CHAT)) == 1  # only the link's confirmation

    assert tasks.attempt_delivery(delivery.pk) is None
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SENT
    assert delivery.attempts == 2
    assert api.sent(ALICE_CHAT)[-1]["text"].startswith("BTC grid: bot error")


@pytest.mark.django_db(transaction=True)
def test_sends_to_one_chat_keep_telegrams_pace_without_spending_attempts(
    api: LocalBotApi, settings: Any
) -> None:
    alice = make_user(email="alice@example.com")
    chat_says(api, ALICE_CHAT, f"/start {linking.do_create_token(alice.pk)}")
    settings.TELEGRAM_CHAT_INTERVAL = 30.0  # a slow chat, so the test never races the clock
    first = announce(alice, Kind.BOT_ERROR, "error:a", "first").deliveries.get(channel=Channel.TELEGRAM)
    second = announce(alice, Kind.BOT_ERROR, "error:b", "second").deliveries.get(channel=Channel.TELEGRAM)

    assert tasks.attempt_delivery(first.pk) is None
    retry_in = tasks.attempt_delivery(second.pk)

    assert retry_in is not None
    assert 28 < retry_in <= 30
    second.refresh_from_db()
    assert second.status == DeliveryStatus.PENDING
    assert second.attempts == 0
    assert "rate limit" in second.last_error
    # The slot lives in Redis under this run's prefix, shared by every worker.
    assert limits.keys(ALICE_CHAT)[0].startswith(settings.REDIS_KEY_PREFIX)
    assert [m["text"] for m in api.sent(ALICE_CHAT)][1:] == ["first\nhttp://localhost:8000/bots/1/"]


def test_the_page_says_when_telegram_is_not_set_up(world: Any, settings: Any) -> None:
    settings.TELEGRAM_BOT_TOKEN = ""
    client = client_for(world.owner)
    page = client.get("/account/notifications/").content.decode()
    assert "Telegram is not set up on this server." in page
    assert "Link Telegram" not in page
    assert client.post("/account/notifications/telegram/link/").status_code == 302
    assert not TelegramLinkToken.objects.exists()
    # Nothing is queued for a channel that cannot deliver.
    preferences.set_mode(world.owner.pk, Kind.BOT_ERROR, Channel.TELEGRAM, Mode.ON)
    assert preferences.wanted_channels(world.owner.pk, Kind.BOT_ERROR) == [Channel.IN_APP, Channel.EMAIL]


@pytest.mark.django_db(transaction=True)
def test_the_unlink_button_unbinds_the_chat(api: LocalBotApi) -> None:
    alice = make_user(email="alice@example.com")
    chat_says(api, ALICE_CHAT, f"/start {linking.do_create_token(alice.pk)}")
    client = client_for(alice)
    assert client.post("/account/notifications/telegram/unlink/").status_code == 302
    assert not TelegramLink.objects.exists()
    page = client.get("/account/notifications/").content.decode()
    assert "Link Telegram" in page
    assert "Linked to" not in page


def test_handled_update_ids_are_pruned_after_two_days(db: None) -> None:
    TelegramUpdate.objects.create(update_id=1, received_at=timezone.now() - timedelta(days=3))
    TelegramUpdate.objects.create(update_id=2, received_at=timezone.now() - timedelta(days=1))

    assert tasks.prune_telegram_updates() == 1
    assert list(TelegramUpdate.objects.values_list("update_id", flat=True)) == [2]


def test_the_local_api_refuses_other_tokens_and_is_driven_over_http() -> None:
    import httpx

    with LocalBotApi() as server:
        assert httpx.post(f"{server.url}/botwrong:token/getMe").status_code == 401
        injected = httpx.post(f"{server.url}/__local/inject", json={"chat_id": 9, "text": "/status"}).json()
        assert injected["result"]["message"]["entities"][0]["type"] == "bot_command"
        updates = httpx.post(f"{server.url}/bot{server.token}/getUpdates", json={"timeout": 0}).json()
        assert [u["message"]["text"] for u in updates["result"]] == ["/status"]
        httpx.post(f"{server.url}/__local/throttle", json={"count": 1, "retry_after": 4})
        refused = httpx.post(f"{server.url}/bot{server.token}/sendMessage", json={"chat_id": 9, "text": "hi"})
        assert refused.status_code == 429
        assert refused.json()["parameters"] == {"retry_after": 4}
        httpx.post(f"{server.url}/bot{server.token}/sendMessage", data={"chat_id": "9", "text": "hi"})
        sent = httpx.get(f"{server.url}/__local/sent", params={"chat_id": 9}).json()["result"]
        assert [m["text"] for m in sent] == ["hi"]


@pytest.mark.django_db(transaction=True)
def test_updates_pushed_to_the_webhook_over_http_are_answered(api: LocalBotApi, live_server: Any) -> None:
    from notifications.telegram import client

    alice = make_user(email="alice@example.com")
    url = f"{live_server.url}/telegram/webhook/"
    client.call(lambda bot: bot.set_webhook(url, secret_token=SECRET))
    assert api.webhook_url == url

    api.inject_message(ALICE_CHAT, f"/start {linking.do_create_token(alice.pk)}", "alice")

    assert api.wait_for_message(ALICE_CHAT, 1)[0]["text"].startswith("Linked")
    assert TelegramLink.objects.get().user == alice
