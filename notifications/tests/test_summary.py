"""The daily summary: due at the trader's local hour (DST-safe), sent once a local day, with the
dashboard's own figures, mailed as HTML and text through a real SMTP server."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from email.message import EmailMessage
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import User
from billing.entitlements import subscription_for
from billing.models import SubscriptionStatus
from bots.models import Bot, BotStatus
from notifications import record, summary
from notifications.events import Channel, Kind
from notifications.forms import cell_name
from notifications.models import DailySummary, Notification
from notifications.preferences import matrix_for
from notifications.tasks import deliver_notification, send_daily_summaries
from notifications.tests.smtp import Inbox
from risk.tests.test_rules import losing_day
from trading.models import Order
from trading.overview import overview

Capture = Callable[..., Any]


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    ids: list[int] = []
    monkeypatch.setattr(record, "enqueue", lambda delivery_ids: ids.extend(delivery_ids))
    return ids


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def schedule(user: User, zone: str, hour: int) -> DailySummary:
    User.objects.filter(pk=user.pk).update(time_zone=zone)
    user.refresh_from_db()
    return DailySummary.objects.create(user=user, hour=hour)


def summaries(user: User) -> list[Notification]:
    return list(Notification.objects.filter(user=user, kind=Kind.DAILY_SUMMARY).order_by("created_at", "pk"))


def run(now: datetime, capture: Capture) -> int:
    with capture(execute=True):
        return summary.send_due_summaries(now=now)


# When ------------------------------------------------------------------------------------


def test_sent_at_the_local_hour_once_a_day(
    world: Any, queued: list[int], django_capture_on_commit_callbacks: Capture
) -> None:
    schedule(world.owner, "Europe/Paris", 8)  # winter: UTC+1
    assert run(at("2026-12-07T06:59:59"), django_capture_on_commit_callbacks) == 0  # 07:59:59 in Paris
    assert run(at("2026-12-07T07:00:00"), django_capture_on_commit_callbacks) == 1  # 08:00
    assert run(at("2026-12-07T07:05:00"), django_capture_on_commit_callbacks) == 0  # claimed for the 7th
    assert run(at("2026-12-07T22:59:00"), django_capture_on_commit_callbacks) == 0  # 23:59, same day
    assert run(at("2026-12-07T23:00:00"), django_capture_on_commit_callbacks) == 0  # the 8th, but 00:00
    assert run(at("2026-12-08T07:01:00"), django_capture_on_commit_callbacks) == 1
    sent = summaries(world.owner)
    assert [n.payload["day"] for n in sent] == ["2026-12-07", "2026-12-08"]
    assert sent[0].title == "Daily summary for Mon 7 Dec"


def test_the_spring_forward_hour_that_never_comes_sends_at_the_next(
    world: Any, queued: list[int], django_capture_on_commit_callbacks: Capture
) -> None:
    # New York skips 02:00-03:00 on 8 March 2026: 06:59 UTC is 01:59 EST, 07:00 UTC is 03:00 EDT.
    schedule(world.owner, "America/New_York", 2)
    assert run(at("2026-03-08T06:59:00"), django_capture_on_commit_callbacks) == 0
    assert run(at("2026-03-08T07:00:00"), django_capture_on_commit_callbacks) == 1
    assert summaries(world.owner)[0].payload["day"] == "2026-03-08"


def test_the_fall_back_hour_that_comes_twice_sends_once(
    world: Any, queued: list[int], django_capture_on_commit_callbacks: Capture
) -> None:
    # 1 November 2026: 01:00-02:00 in New York happens at 05:00 UTC (EDT) and again at 06:00 UTC (EST).
    schedule(world.owner, "America/New_York", 1)
    assert run(at("2026-11-01T04:59:00"), django_capture_on_commit_callbacks) == 0
    assert run(at("2026-11-01T05:00:00"), django_capture_on_commit_callbacks) == 1
    assert run(at("2026-11-01T06:00:00"), django_capture_on_commit_callbacks) == 0
    assert len(summaries(world.owner)) == 1


def test_two_workers_racing_send_one_summary(world: Any, queued: list[int]) -> None:
    plan = schedule(world.owner, "UTC", 9)
    day = at("2026-12-07T09:00:00").date()
    assert summary.claim(plan, day) is True
    assert summary.claim(plan, day) is False


def test_choosing_an_hour_already_past_today_starts_tomorrow(world: Any) -> None:
    client = Client()
    client.force_login(world.owner)
    hour = (timezone.now().hour + 23) % 24  # an hour ago, in the owner's UTC
    cells = {cell_name(kind, channel): mode for (kind, channel), mode in matrix_for(world.owner.pk).items()}
    response = client.post("/account/notifications/", {**cells, "summary_hour": str(hour)})
    assert response.status_code == 302
    plan = DailySummary.objects.get(user=world.owner)
    expected = timezone.now().date() if hour <= timezone.now().hour else None
    assert (plan.hour, plan.last_summary_on) == (hour, expected)
    assert f'<option value="{hour}" selected>' in client.get("/account/notifications/").content.decode()
    client.post("/account/notifications/", {**cells, "summary_hour": ""})
    assert not DailySummary.objects.filter(user=world.owner).exists()


# What --------------------------------------------------------------------------------------


def test_the_summary_states_the_dashboards_figures_and_what_needs_attention(
    world: Any, queued: list[int], django_capture_on_commit_callbacks: Capture
) -> None:
    owner = world.owner
    first, second = losing_day(owner)
    Bot.objects.filter(pk=second.pk).update(
        status=BotStatus.ERROR, status_reason="The venue refused the key."
    )
    Order.objects.filter(bot=first).update(cancel_unconfirmed_since=timezone.now())
    unconfirmed = Order.objects.filter(bot=first).count()
    subscription = subscription_for(owner)
    subscription.status = SubscriptionStatus.PAST_DUE
    subscription.save()
    schedule(owner, "UTC", 0)
    now = timezone.now()

    assert run(now, django_capture_on_commit_callbacks) == 1
    (sent,) = summaries(owner)
    figures = {line.bot.pk: line for line in overview(owner, now=now).lines}
    bots = {bot["bot_id"]: bot for bot in sent.payload["bots"]}
    assert set(bots) == {first.pk, second.pk}
    for pk, line in figures.items():
        assert line.summary is not None
        assert Decimal(bots[pk]["total_pnl"]) == line.summary.total_pnl
        assert Decimal(bots[pk]["today_pnl"]) == line.today_pnl
    assert Decimal(sent.payload["totals"][0]["today_pnl"]) < 0  # the losing day
    assert sent.payload["fills"] > 0
    attention = " ".join(sent.payload["attention"])
    assert "grid 1 stopped with an error: The venue refused the key." in attention
    assert f"{unconfirmed} order cancel" in attention
    assert "payment did not go through" in attention
    assert "Needs your attention" in sent.body


def body_of(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None
    return str(part.get_content())


def test_the_summary_is_mailed_as_html_and_text(
    world: Any, inbox: Inbox, queued: list[int], django_capture_on_commit_callbacks: Capture
) -> None:
    losing_day(world.owner, bots=1)
    schedule(world.owner, "UTC", 0)
    assert run(timezone.now() + timedelta(seconds=1), django_capture_on_commit_callbacks) == 1
    (sent,) = summaries(world.owner)
    mail = sent.deliveries.get(channel=Channel.EMAIL)  # on by default once the trader asks for a summary
    deliver_notification(mail.pk)

    (message,) = inbox.messages
    assert str(message["Subject"]).startswith("[Gridwise] Daily summary for ")
    text, html = body_of(message, "plain"), body_of(message, "html")
    total = sent.payload["bots"][0]["total_pnl"]
    shown = summary.signed_text(total)
    assert shown.startswith("-")
    assert "grid 0 (BTCUSDT, running): today " in text
    assert shown in text
    assert "<table" in html
    assert shown in html
    assert "grid 0" in html
    assert "Fills in the last 24 hours:" in text
    assert "Nothing needs your attention." in text


def test_the_beat_task_runs_the_same_check(
    world: Any, queued: list[int], django_capture_on_commit_callbacks: Capture
) -> None:
    schedule(world.owner, "UTC", 0)
    with django_capture_on_commit_callbacks(execute=True):
        assert send_daily_summaries() == 1
        assert send_daily_summaries() == 0
