"""The staff board: MRR, trials ending this week, past-due users; and changes made by hand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import twofactor
from accounts.models import AuditEvent, User
from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in, totp_code
from billing import entitlements, lifecycle, metrics
from billing.actions import STAFF_CHANGE
from billing.models import BillingPeriod, Subscription, SubscriptionStatus
from billing.tests.test_lifecycle import live_bots, statuses

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:billing_subscription_changelist"


@pytest.fixture
def staff_client(client: Client) -> Client:
    staff = make_user(email="staff@example.com", is_staff=True, is_superuser=True)
    device = twofactor.pending_totp_device(staff)
    twofactor.enable_two_factor(device)
    sign_in(client, staff.email)
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(device)})
    return client


def on(
    email: str, plan: str, status: str, period: str = BillingPeriod.MONTHLY, **fields: Any
) -> Subscription:
    user = make_user(email=email)
    subscription = entitlements.subscription_for(user)
    Subscription.objects.filter(pk=subscription.pk).update(
        plan=plan, status=status, period=period, trial_end=None, **fields
    )
    subscription.refresh_from_db()
    return subscription


@pytest.fixture
def book() -> None:
    """Paying, trialing, owing and granted subscriptions."""
    now = timezone.now()
    on("starter.monthly@example.com", "starter", "active")  # 29.00
    on("pro.yearly@example.com", "pro", "active", BillingPeriod.YEARLY)  # 990.00 / 12 = 82.50
    on("starter.yearly@example.com", "starter", "active", BillingPeriod.YEARLY)  # 290.00 / 12 = 24.1666...
    on("free@example.com", "free", "active")
    on("granted@example.com", "enterprise", "active", granted_by_staff=True)
    on(
        "leaving@example.com",
        "pro",
        "active",
        cancel_at_period_end=True,
        current_period_end=now - timedelta(hours=1),
    )
    on(
        "staying@example.com",
        "pro",
        "active",
        cancel_at_period_end=True,
        current_period_end=now + timedelta(days=9),
    )
    trial = on("trial.soon@example.com", "pro", "trialing")
    Subscription.objects.filter(pk=trial.pk).update(trial_end=now + timedelta(days=3))
    later = on("trial.later@example.com", "pro", "trialing")
    Subscription.objects.filter(pk=later.pk).update(trial_end=now + timedelta(days=12))
    on("owing@example.com", "starter", "past_due", past_due_since=now - timedelta(days=2))
    on("lapsed@example.com", "pro", "past_due", past_due_since=now - timedelta(days=9))


def test_mrr_counts_active_paid_plans_with_yearly_over_twelve(book: None) -> None:
    # 2900 + 99000/12 + 29000/12 + 9900 (Pro, cancelling at a period end still ahead)
    # = (12 * (2900 + 9900) + 99000 + 29000) // 12 = 281600 // 12 = 23466 (rounded down once)
    assert metrics.mrr_cents() == 23466
    # Trials, Free, staff grants, a cancellation already ended and past-due are not revenue;
    # past due within its grace is MRR at risk, past its grace it is not counted at all.
    assert metrics.at_risk_cents() == 2900
    assert metrics.monthly_cents([("starter", "monthly"), ("pro", "yearly")]) == 2900 + 8250
    assert metrics.monthly_cents([]) == 0


def test_the_board_shows_mrr_trials_ending_and_past_due_users(staff_client: Client, book: None) -> None:
    response = staff_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    page = response.content.decode()
    assert "<strong data-mrr>$234.66</strong>" in page
    assert "<span data-at-risk>$29.00</span>" in page
    assert "Trials ending this week (1)" in page
    board = page.split("Revenue and accounts to watch", 1)[1].split("</section>", 1)[0]
    assert "trial.soon@example.com" in board
    assert "trial.later@example.com" not in board
    assert "Past-due users (2)" in board
    assert "owing@example.com" in board
    assert "lapsed@example.com" in board
    assert "grace over" in board

    in_grace = staff_client.get(reverse(CHANGELIST), {"past_due": "in_grace"}).content.decode()
    listed = in_grace.split('id="result_list"', 1)[1]
    assert "owing@example.com" in listed
    assert "lapsed@example.com" not in listed
    lapsed = staff_client.get(reverse(CHANGELIST), {"past_due": "lapsed"}).content.decode()
    listed = lapsed.split('id="result_list"', 1)[1]
    assert "lapsed@example.com" in listed
    assert "owing@example.com" not in listed
    yearly = staff_client.get(reverse(CHANGELIST), {"period__exact": "yearly"}).content.decode()
    assert "pro.yearly@example.com" in yearly.split('id="result_list"', 1)[1]
    assert (
        staff_client.get(
            reverse(CHANGELIST), {"current_period_end__gte": "2000-01-01 00:00:00+00:00"}
        ).status_code
        == 200
    )
    assert staff_client.get(reverse("admin:billing_failedpayment_changelist")).status_code == 200


def test_without_staff_or_a_second_factor_there_is_no_board(book: None) -> None:
    trader: User = make_user(email="trader@example.com")
    client = Client()
    client.force_login(trader)
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 302
    assert "$234.66" not in response.content.decode()
    staff_without_2fa = make_user(email="staff2@example.com", is_staff=True, is_superuser=True)
    client.force_login(staff_without_2fa)
    response = client.get(reverse(CHANGELIST))
    assert response.status_code == 302
    assert "$234.66" not in response.content.decode()


def test_a_plan_lowered_by_hand_stops_the_newest_bots_with_an_audit_event(staff_client: Client) -> None:
    user = make_user(email="partner@example.com")
    subscription = on("unused@example.com", "free", "active")  # another row, untouched
    subscription = entitlements.subscription_for(user)
    Subscription.objects.filter(pk=subscription.pk).update(plan="pro", status="active", trial_end=None)
    running = live_bots(user, [30, 20, 10, 5])
    url = reverse("admin:billing_subscription_change", args=[subscription.pk])
    form = {
        "user": user.pk,
        "plan": "starter",
        "period": "monthly",
        "status": "active",
        "trial_end_0": "",
        "trial_end_1": "",
        "current_period_end_0": "",
        "current_period_end_1": "",
    }
    response = staff_client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]

    subscription.refresh_from_db()
    assert (subscription.plan, subscription.granted_by_staff) == ("starter", True)
    assert statuses(running) == ["running", "running", "running", "stopping"]
    event = AuditEvent.objects.get(action=STAFF_CHANGE)
    assert event.actor_email == "staff@example.com"
    assert event.details["changed"]["plan"] == ["pro", "starter"]
    stop = AuditEvent.objects.get(action=lifecycle.BOT_STOPPED)
    assert stop.details["bot_name"] == "Grid started 5h ago"

    response = staff_client.post(url, {**form, "granted_by_staff": "on"})  # saved again unchanged
    assert response.status_code == 302
    assert AuditEvent.objects.filter(action=STAFF_CHANGE).count() == 1
    assert AuditEvent.objects.filter(action=lifecycle.BOT_STOPPED).count() == 1


def test_staff_set_past_due_by_hand_starts_the_grace(staff_client: Client) -> None:
    subscription = on("late@example.com", "starter", "active")
    url = reverse("admin:billing_subscription_change", args=[subscription.pk])
    form = {
        "user": subscription.user_id,
        "plan": "starter",
        "period": "monthly",
        "status": "past_due",
        "trial_end_0": "",
        "trial_end_1": "",
        "current_period_end_0": "",
        "current_period_end_1": "",
    }
    assert staff_client.post(url, form).status_code == 302
    subscription.refresh_from_db()
    assert subscription.status == SubscriptionStatus.PAST_DUE
    assert subscription.past_due_since is not None
