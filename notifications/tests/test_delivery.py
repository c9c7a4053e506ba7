"""A notification is recorded once and reaches each chosen channel: the bell at once, email
through a real SMTP server, retried with backoff and logged per attempt."""

from __future__ import annotations

import datetime
import socket
import time
import zoneinfo
from email.message import EmailMessage
from typing import Any

import pytest
from django.utils import timezone

from accounts.tests.factories import make_user
from notifications import channels, preferences, record, tasks
from notifications.events import Channel, Kind, Mode
from notifications.models import Delivery, DeliveryStatus, Notification, QuietHours
from notifications.tests.smtp import Inbox, free_port


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Deliveries handed to Celery after commit; the test runs the task itself."""
    ids: list[int] = []
    monkeypatch.setattr(record, "enqueue", lambda delivery_ids: ids.extend(delivery_ids))
    return ids


@pytest.fixture
def retries(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, float]]:
    later: list[tuple[Any, float]] = []
    monkeypatch.setattr(
        tasks.deliver_notification,
        "apply_async",
        lambda args, countdown: later.append((args, countdown)),
    )
    return later


def announce(user: Any, kind: str = Kind.BOT_ERROR, key: str = "bot:1:run:1:bot.error", **fields: Any) -> Any:
    fields.setdefault("title", "BTC grid: bot error")
    fields.setdefault("body", "BTC grid (BTCUSDT) stopped with an error. The venue refused the key.")
    fields.setdefault("link", "/bots/1/")
    return record.record(user.pk, kind, key, **fields)


def body_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())


def email_delivery(notification: Notification) -> Delivery:
    return notification.deliveries.get(channel=Channel.EMAIL)


def test_an_error_reaches_the_bell_at_once_and_the_inbox_through_smtp(
    world: Any, inbox: Inbox, queued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        notification = announce(world.owner)
    in_app = notification.deliveries.get(channel=Channel.IN_APP)
    assert (in_app.status, in_app.attempts) == (DeliveryStatus.SENT, 1)
    mail = email_delivery(notification)
    assert queued == [mail.pk]

    tasks.deliver_notification(mail.pk)

    mail.refresh_from_db()
    assert (mail.status, mail.attempts, mail.last_error) == (DeliveryStatus.SENT, 1, "")
    (message,) = inbox.messages
    assert message["To"] == world.owner.email
    assert message["Subject"] == "[Gridwise] BTC grid: bot error"
    text = body_of(message, "plain")
    html = body_of(message, "html")
    assert "The venue refused the key." in text
    assert "The venue refused the key." in html
    assert "http://localhost:8000/bots/1/" in html
    unsubscribe = str(message["List-Unsubscribe"]).strip().strip("<>")
    assert unsubscribe.startswith("http://localhost:8000/notifications/unsubscribe/")
    assert unsubscribe in text
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    # A second run of the same task (a redelivered message) sends nothing more.
    tasks.deliver_notification(mail.pk)
    assert len(inbox.messages) == 1


def test_a_failed_send_is_retried_with_backoff_and_each_attempt_is_logged(
    world: Any, inbox: Inbox, settings: Any, queued: list[int], retries: list[tuple[Any, float]]
) -> None:
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 4
    mail = email_delivery(announce(world.owner))
    smtp_port = settings.EMAIL_PORT
    settings.EMAIL_PORT = free_port()  # nobody listens: the server is down

    tasks.deliver_notification(mail.pk)
    mail.refresh_from_db()
    assert (mail.status, mail.attempts) == (DeliveryStatus.PENDING, 1)
    assert "ConnectionRefusedError" in mail.last_error
    assert retries == [((mail.pk,), 4.0)]
    tasks.deliver_notification(mail.pk)
    mail.refresh_from_db()
    assert mail.attempts == 2
    assert retries[-1] == ((mail.pk,), 8.0)  # twice as long each time
    assert mail.next_attempt_at is not None
    assert mail.next_attempt_at > timezone.now()

    settings.EMAIL_PORT = smtp_port  # back up
    tasks.deliver_notification(mail.pk)
    mail.refresh_from_db()
    assert (mail.status, mail.attempts, mail.last_error) == (DeliveryStatus.SENT, 3, "")
    assert len(inbox.messages) == 1


def test_a_send_that_keeps_failing_gives_up_after_its_attempts(
    world: Any, settings: Any, queued: list[int], retries: list[tuple[Any, float]]
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    settings.NOTIFICATIONS_RETRY_BASE_SECONDS = 1  # every retry soon enough for a countdown message
    mail = email_delivery(announce(world.owner))
    for _ in range(mail.max_attempts):
        tasks.deliver_notification(mail.pk)
    mail.refresh_from_db()
    assert (mail.status, mail.attempts) == (DeliveryStatus.FAILED, mail.max_attempts)
    assert mail.completed_at is not None
    assert len(retries) == mail.max_attempts - 1


def test_the_sweep_requeues_a_due_delivery_whose_message_was_lost(
    world: Any, queued: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    mail = email_delivery(announce(world.owner))
    Delivery.objects.filter(pk=mail.pk).update(next_attempt_at=timezone.now() - datetime.timedelta(minutes=1))
    sent: list[int] = []
    monkeypatch.setattr(tasks.deliver_notification, "delay", sent.append)
    assert tasks.sweep_due_notifications() == 1
    assert sent == [mail.pk]


def test_the_same_event_reported_twice_is_recorded_and_mailed_once(world: Any, queued: list[int]) -> None:
    first = announce(world.owner)
    again = announce(world.owner, title="BTC grid: bot error (again)")
    assert first is not None
    assert again is None
    assert Notification.objects.filter(user=world.owner).count() == 1
    assert Delivery.objects.filter(channel=Channel.EMAIL).count() == 1
    # Another trader's event under the same name is theirs.
    assert announce(world.outsider) is not None


def test_defaults_keep_fills_quiet_and_send_errors_stops_and_exits_by_email(
    world: Any, queued: list[int]
) -> None:
    assert announce(world.owner, Kind.ORDER_FILLED, "fill:1:t-1", title="BTC grid: bought") is None
    assert Notification.objects.count() == 0
    started = announce(world.owner, Kind.BOT_STARTED, "bot:1:run:1:bot.started")
    assert {d.channel for d in started.deliveries.all()} == {Channel.IN_APP}
    for kind in (
        Kind.BOT_ERROR,
        Kind.BOT_STOPPED,
        Kind.BOT_TAKE_PROFIT,
        Kind.BOT_STOP_LOSS,
        Kind.NEW_DEVICE_LOGIN,
    ):
        notification = announce(world.owner, kind, f"k:{kind}")
        assert {d.channel for d in notification.deliveries.all()} == {Channel.IN_APP, Channel.EMAIL}, kind


def test_a_trader_who_turns_fills_on_gets_them_and_one_who_turns_errors_off_does_not(
    world: Any, queued: list[int]
) -> None:
    preferences.set_mode(world.owner.pk, Kind.ORDER_FILLED, Channel.IN_APP, Mode.ON)
    preferences.set_mode(world.owner.pk, Kind.BOT_ERROR, Channel.EMAIL, Mode.OFF)
    fill = announce(world.owner, Kind.ORDER_FILLED, "fill:1:t-1", title="BTC grid: bought")
    assert {d.channel for d in fill.deliveries.all()} == {Channel.IN_APP}
    error = announce(world.owner)
    assert {d.channel for d in error.deliveries.all()} == {Channel.IN_APP}
    # The other trader keeps the defaults.
    assert announce(world.outsider, Kind.ORDER_FILLED, "fill:2:t-1", title="x") is None


def quiet_around_now(user: Any, time_zone: str) -> None:
    user.time_zone = time_zone
    user.save(update_fields=["time_zone"])
    local = timezone.now().astimezone(zoneinfo.ZoneInfo(time_zone))
    start = (local - datetime.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    end = (local + datetime.timedelta(hours=1)).time().replace(second=0, microsecond=0)
    QuietHours.objects.create(user=user, start=start, end=end)


def test_quiet_hours_in_the_traders_time_zone_hold_routine_mail_but_not_critical(
    world: Any, queued: list[int], django_capture_on_commit_callbacks: Any
) -> None:
    quiet_around_now(world.owner, "Pacific/Auckland")
    with django_capture_on_commit_callbacks(execute=True):
        stopped = announce(
            world.owner, Kind.BOT_STOPPED, "bot:1:run:1:bot.stopped", title="BTC grid: stopped"
        )
        stop_loss = announce(
            world.owner, Kind.BOT_STOP_LOSS, "bot:1:run:1:bot.stop_loss", title="BTC grid: SL"
        )
    held = email_delivery(stopped)
    assert (held.status, held.last_error) == (DeliveryStatus.SKIPPED, record.QUIET_HOURS_NOTE)
    assert stopped.deliveries.get(channel=Channel.IN_APP).status == DeliveryStatus.SENT
    assert held.pk not in queued
    assert email_delivery(stop_loss).status == DeliveryStatus.PENDING
    assert email_delivery(stop_loss).pk in queued
    # Another trader's quiet hours are not this one's.
    other = announce(world.outsider, Kind.BOT_STOPPED, "bot:2:run:1:bot.stopped", title="ETH grid: stopped")
    assert email_delivery(other).status == DeliveryStatus.PENDING


@pytest.mark.parametrize(
    ("start", "end", "local", "quiet"),
    [
        ("22:00", "07:00", "23:30", True),
        ("22:00", "07:00", "06:59", True),
        ("22:00", "07:00", "07:00", False),
        ("22:00", "07:00", "12:00", False),
        ("01:00", "05:00", "03:00", True),
        ("01:00", "05:00", "05:30", False),
    ],
)
def test_quiet_hours_may_span_midnight(start: str, end: str, local: str, quiet: bool) -> None:
    zone = zoneinfo.ZoneInfo("Europe/Berlin")
    when = datetime.datetime.combine(datetime.date(2026, 1, 15), datetime.time.fromisoformat(local), zone)
    hours = QuietHours(start=datetime.time.fromisoformat(start), end=datetime.time.fromisoformat(end))
    assert preferences.is_quiet(hours, "Europe/Berlin", when.astimezone(datetime.UTC)) is quiet


def test_email_goes_only_to_a_verified_address_and_is_not_retried_otherwise(
    db: None, inbox: Inbox, queued: list[int], retries: list[tuple[Any, float]]
) -> None:
    unverified = make_user(email="someone-elses@example.com", verified=False)
    mail = email_delivery(announce(unverified))
    tasks.deliver_notification(mail.pk)
    mail.refresh_from_db()
    assert (mail.status, mail.attempts) == (DeliveryStatus.FAILED, 1)
    assert "not verified" in mail.last_error
    assert retries == []
    assert inbox.messages == []


def test_old_settled_notifications_are_pruned_with_their_log(world: Any, queued: list[int]) -> None:
    old = announce(world.owner, Kind.BOT_STARTED, "old", title="old")
    unsent = announce(world.owner, Kind.BOT_ERROR, "unsent", title="unsent")
    recent = announce(world.owner, Kind.BOT_STARTED, "recent", title="recent")
    long_ago = timezone.now() - datetime.timedelta(days=91)
    Notification.objects.filter(pk__in=[old.pk, unsent.pk]).update(created_at=long_ago)
    assert tasks.prune_old_notifications() == 2  # the notification and its in-app delivery
    assert set(Notification.objects.values_list("pk", flat=True)) == {unsent.pk, recent.pk}


def test_a_mail_server_that_never_answers_times_out_and_is_retried(
    world: Any,
    settings: Any,
    queued: list[int],
    retries: list[tuple[Any, float]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_TIMEOUT = None  # Django's default: wait forever
    monkeypatch.setattr(channels, "DEFAULT_EMAIL_TIMEOUT", 0.5)
    with socket.socket() as silent:  # accepts the connection, never greets
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        settings.EMAIL_HOST, settings.EMAIL_PORT = "127.0.0.1", silent.getsockname()[1]
        mail = email_delivery(announce(world.owner))
        began = time.monotonic()
        tasks.deliver_notification(mail.pk)
        assert time.monotonic() - began < 5
    mail.refresh_from_db()
    assert (mail.status, mail.attempts) == (DeliveryStatus.PENDING, 1)
    assert "timed out" in mail.last_error.lower()
    assert len(retries) == 1
