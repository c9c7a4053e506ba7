"""A failed payment, its grace period, recovery, and a smaller plan stopping the bots beyond it,
on PostgreSQL, a real SMTP server and the real paper exchange."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, User
from accounts.tests.factories import make_user
from billing import entitlements, lifecycle, tasks
from billing.models import FailedPayment, Subscription, SubscriptionStatus
from billing.plans import PlanCode
from billing.tests.helpers import end_trial, put_on_plan
from billing.tests.test_limits import bots, bybit_account
from bots import actions as bot_actions
from bots.models import Bot, BotEvent, BotEventKind, BotStatus
from bots.tests.conftest import paper_account_for, venue
from bots.tests.factories import grid_config
from bots.tests.test_engine import settle, started
from exchanges.paper import market
from notifications.events import Kind
from notifications.models import Delivery, Notification
from notifications.tests.smtp import Inbox, smtp_server

D = Decimal
pytestmark = pytest.mark.django_db
Capture = Callable[..., Any]


@pytest.fixture
def inbox(settings: Any) -> Iterator[Inbox]:
    """Django's SMTP backend pointed at a local aiosmtpd server."""
    with smtp_server() as (received, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 5
        yield received


def day(moment: datetime) -> str:
    return f"{moment.day} {moment:%b}"


def html_of(message: Any, kind: str = "html") -> str:
    part = message.get_body(preferencelist=(kind,))
    assert part is not None, f"no {kind} part"
    return str(part.get_content())


def state(subscription: Subscription, **changes: Any) -> dict[str, Any]:
    """The subscription's state as a webhook would send it, with `changes`."""
    fields: dict[str, Any] = {
        "plan": subscription.plan,
        "status": subscription.status,
        "current_period_end": subscription.current_period_end,
        "cancel_at_period_end": subscription.cancel_at_period_end,
        "trial_end": subscription.trial_end,
        "stripe_subscription_id": subscription.stripe_subscription_id,
        "source": "stripe",
    }
    return {**fields, **changes}


def live_bots(user: User, started_hours_ago: list[int], label: str = "Bybit") -> list[Bot]:
    """Running live bots, each started the given number of hours ago."""
    made = bots(bybit_account(user, label), len(started_hours_ago))
    now = timezone.now()
    for bot, hours in zip(made, started_hours_ago, strict=True):
        bot.started_at = now - timedelta(hours=hours)
        bot.name = f"Grid started {hours}h ago"
        bot.save()
    return made


def statuses(found: list[Bot]) -> list[str]:
    return [Bot.objects.get(pk=bot.pk).status for bot in found]


# A failed payment ---------------------------------------------------------------------


def test_a_failed_payment_is_past_due_with_one_email_one_notification_and_a_banner(
    inbox: Inbox, django_capture_on_commit_callbacks: Capture
) -> None:
    user = make_user(email="payer@example.com")
    subscription = put_on_plan(user, PlanCode.STARTER)
    at = timezone.now() - timedelta(hours=1)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.record_payment_failed(subscription, invoice_id="in_1", amount_cents=2900, at=at)

    subscription.refresh_from_db()
    assert (subscription.status, subscription.past_due_since) == (SubscriptionStatus.PAST_DUE, at)
    assert entitlements.plan_of(user).code == PlanCode.STARTER, "the plan's limits hold during grace"
    headline = f"Your payment of $29.00 failed on {day(at)}."
    action = f"Update your card by {day(at + timedelta(days=7))} to keep your Starter plan."

    [message] = inbox.messages
    assert message["To"] == "payer@example.com"
    assert message["Subject"] == f"[Gridwise] {headline}"
    assert action in html_of(message)
    assert "http://localhost:8000/account/billing/" in html_of(message, "plain")

    notification = Notification.objects.get(user=user, kind=Kind.PAYMENT_FAILED)
    assert (notification.severity, notification.title, notification.link) == (
        "critical",
        headline,
        "/account/billing/",
    )
    email = Delivery.objects.get(notification=notification, channel="email")
    assert email.status == "skipped", "the billing email is the email: no second one"
    assert AuditEvent.objects.filter(action=lifecycle.PAYMENT_FAILED).count() == 1

    client = Client()
    client.force_login(user)
    page = client.get(reverse("home")).content.decode()
    assert 'class="payment-banner"' in page
    assert f'{headline}</strong> <a href="/account/billing/">{action}</a>' in page
    assert "payment-banner" not in Client().get("/").content.decode(), "quiet for visitors"
    assert "payment-banner" not in Client().get(reverse("pricing")).content.decode()
    billing_page = client.get("/account/billing/").content.decode()
    assert f'<dd id="plan-payment">{headline} {action}</dd>' in billing_page
    assert "Renews" not in billing_page, "a past-due plan does not simply renew"


def test_a_replayed_failure_changes_nothing_and_sends_nothing(
    inbox: Inbox, django_capture_on_commit_callbacks: Capture
) -> None:
    user = make_user()
    subscription = put_on_plan(user, PlanCode.STARTER)
    first = timezone.now() - timedelta(days=2)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.record_payment_failed(subscription, invoice_id="in_9", amount_cents=2900, at=first)
    subscription.refresh_from_db()
    updated = subscription.updated_at
    audits = AuditEvent.objects.count()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        # Stripe retries the same invoice and reports it again, and resends its subscription.
        lifecycle.record_payment_failed(subscription, invoice_id="in_9", amount_cents=2900, at=timezone.now())
        lifecycle.apply_subscription_state(subscription, **state(subscription))
    assert callbacks == []
    subscription.refresh_from_db()
    assert (subscription.past_due_since, subscription.updated_at) == (first, updated)
    assert len(inbox.messages) == 1
    assert Notification.objects.filter(user=user).count() == 1
    assert FailedPayment.objects.count() == 1
    assert AuditEvent.objects.count() == audits


def test_a_second_invoice_failing_is_told_but_the_grace_runs_from_the_first(
    inbox: Inbox, django_capture_on_commit_callbacks: Capture
) -> None:
    subscription = put_on_plan(make_user(), PlanCode.STARTER)
    first = timezone.now() - timedelta(days=3)
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.record_payment_failed(subscription, invoice_id="in_a", amount_cents=2900, at=first)
        lifecycle.record_payment_failed(subscription, invoice_id="in_b", amount_cents=2900, at=timezone.now())
    subscription.refresh_from_db()
    assert subscription.past_due_since == first
    assert len(inbox.messages) == 2


def test_recovery_clears_the_past_due_mark_and_the_banner(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    user = make_user()
    subscription = put_on_plan(user, PlanCode.STARTER)
    lifecycle.record_payment_failed(subscription, invoice_id="in_r", amount_cents=2900, at=timezone.now())
    client = Client()
    client.force_login(user)
    assert "payment-banner" in client.get(reverse("home")).content.decode()

    lifecycle.apply_subscription_state(subscription, **state(subscription, status="active"))
    subscription.refresh_from_db()
    assert (subscription.status, subscription.past_due_since) == (SubscriptionStatus.ACTIVE, None)
    assert "payment-banner" not in client.get(reverse("home")).content.decode()
    event = AuditEvent.objects.get(action=lifecycle.STATE_CHANGED)
    assert event.details["changed"]["status"] == ["past_due", "active"]
    assert event.details["source"] == "stripe"


def test_stripe_words_for_status(django_capture_on_commit_callbacks: Capture) -> None:
    subscription = put_on_plan(make_user(), PlanCode.STARTER)
    lifecycle.apply_subscription_state(subscription, **state(subscription, status="incomplete", plan="pro"))
    assert subscription.plan == "starter", "an unpaid checkout grants nothing yet"
    with pytest.raises(ValueError, match="Unknown subscription status"):
        lifecycle.apply_subscription_state(subscription, **state(subscription, status="exploded"))
    lifecycle.apply_subscription_state(subscription, **state(subscription, status="unpaid"))
    assert subscription.status == SubscriptionStatus.PAST_DUE
    assert subscription.past_due_since is not None


# The plan shrinks ---------------------------------------------------------------------


def test_the_grace_ending_stops_every_live_bot_free_does_not_allow(
    inbox: Inbox, django_capture_on_commit_callbacks: Capture
) -> None:
    user = make_user(email="lapsed@example.com")
    subscription = put_on_plan(user, PlanCode.STARTER)
    running = live_bots(user, [30, 20, 10])
    draft = bots(bybit_account(user, "Another"), 1, status=BotStatus.DRAFT)
    eight_days_ago = timezone.now() - timedelta(days=8)
    lifecycle.record_payment_failed(subscription, invoice_id="in_old", amount_cents=2900, at=eight_days_ago)
    entitlements.forget(user)
    assert entitlements.plan_of(user).code == PlanCode.FREE, "read as Free at once, before any job"
    assert statuses(running) == ["running"] * 3, "the beat stops them, not the webhook"

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.enforce_plan_limits() == 3
    assert statuses(running) == ["stopping"] * 3
    assert statuses(draft) == ["draft"]
    assert Bot.objects.filter(owner=user).count() == 4, "nothing is deleted"
    sentence = (
        "We stopped “Grid started 10h ago” because your payment failed and its grace period ended, "
        "so your plan changed to Free, which allows 0 live bots; nothing was sold or deleted."
    )
    assert BotEvent.objects.filter(bot=running[2], kind=BotEventKind.WARNING, message=sentence).exists()
    audits = AuditEvent.objects.filter(action=lifecycle.BOT_STOPPED).order_by("pk")
    assert [event.details["bot_name"] for event in audits] == [
        "Grid started 10h ago",
        "Grid started 20h ago",
        "Grid started 30h ago",
    ], "the most recently started go first"
    stop_emails = [m for m in inbox.messages if "We stopped" in m["Subject"]]
    assert len(stop_emails) == 3
    assert sentence in html_of(stop_emails[0])

    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.enforce_plan_limits() == 0, "the beat again: nothing more to stop"
    assert len(inbox.messages) == 3, "three stops, no more"


def test_a_smaller_plan_stops_the_newest_paper_bot_cleanly_and_keeps_its_base(
    django_capture_on_commit_callbacks: Capture,
) -> None:
    market.set_price("BTCUSDT", D("54000"))
    user = make_user(email="paper@example.com")
    subscription = put_on_plan(user, PlanCode.STARTER)
    running = []
    for index in range(4):  # Free allows 3 paper bots
        account = paper_account_for(user)
        account.label = f"Paper {index}"
        account.save()
        config = grid_config()
        price = bot_actions.check_bot_config(account, config)
        running.append(started(bot_actions.do_create_bot(user, account, f"Paper {index}", config, price)))
    newest = running[-1]
    assert venue(newest).open_orders(), "the grid is laid out"
    base = venue(newest).balances()["BTC"].total
    assert base > 0

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.apply_subscription_state(subscription, **state(subscription, status="canceled"))
    assert statuses(running) == ["running", "running", "running", "stopping"]
    newest = settle(newest)
    assert newest.status == BotStatus.STOPPED
    assert venue(newest).open_orders() == []
    assert not newest.orders.filter(status__in=["pending", "open", "partially_filled"]).exists()
    assert newest.orders.filter(status="cancelled").exists()
    assert venue(newest).balances()["BTC"].total == base, "the base is kept, nothing sold"
    assert "allows 3 paper bots" in newest.events.filter(kind=BotEventKind.WARNING).get().message


def test_upgrade_then_downgrade_keeps_the_bots_that_fit(
    inbox: Inbox, django_capture_on_commit_callbacks: Capture
) -> None:
    user = make_user()
    subscription = put_on_plan(user, PlanCode.STARTER)
    older = live_bots(user, [50, 40, 30])
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.apply_subscription_state(subscription, **state(subscription, plan="pro"))
    assert statuses(older) == ["running"] * 3
    newer = live_bots(user, [2, 1], "Bybit 2")  # room on Pro for more

    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.apply_subscription_state(subscription, **state(subscription, plan="starter"))
    assert statuses(older) == ["running"] * 3
    assert statuses(newer) == ["stopping"] * 2
    assert len(inbox.messages) == 2
    assert all("your plan changed to Starter, which allows 3 live bots" in html_of(m) for m in inbox.messages)
    changes = AuditEvent.objects.filter(action=lifecycle.STATE_CHANGED).count()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        lifecycle.apply_subscription_state(subscription, **state(subscription, plan="starter"))
    assert callbacks == []
    assert AuditEvent.objects.filter(action=lifecycle.STATE_CHANGED).count() == changes
    assert len(inbox.messages) == 2


def test_staff_grant_goes_through_the_lifecycle() -> None:
    from billing.actions import STAFF_CHANGE, do_grant_plan

    user = make_user()
    subscription = put_on_plan(user, PlanCode.PRO)
    running = live_bots(user, [3, 2, 1])
    do_grant_plan(subscription, PlanCode.FREE)
    assert statuses(running) == ["stopping"] * 3
    event = AuditEvent.objects.get(action=STAFF_CHANGE)
    assert event.details["changed"]["plan"] == ["pro", "free"]
    assert Subscription.objects.get(pk=subscription.pk).granted_by_staff


def test_a_trial_that_ran_out_stops_its_live_bots_at_the_next_beat(
    inbox: Inbox, django_capture_on_commit_callbacks: Capture
) -> None:
    user = make_user(email="trialist@example.com")
    running = live_bots(user, [2, 1])
    assert entitlements.plan_of(user).code == PlanCode.PRO
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.enforce_plan_limits() == 0, "the trial still runs"
    end_trial(user)
    with django_capture_on_commit_callbacks(execute=True):
        assert tasks.enforce_plan_limits() == 2
    assert statuses(running) == ["stopping", "stopping"]
    assert "because your Pro trial ended, so your plan changed to Free, which allows 0 live bots" in html_of(
        inbox.messages[0]
    )
