"""The pricing page, the billing page, the checkout notice, and plans granted by staff."""

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
from billing import entitlements
from billing.actions import STAFF_CHANGE
from billing.models import Subscription, SubscriptionStatus
from billing.plans import PlanCode
from billing.tests.helpers import end_trial
from bots.tests.conftest import paper_account_for

pytestmark = pytest.mark.django_db


def test_pricing_is_public_with_monthly_and_yearly_prices(client: Client) -> None:
    monthly = client.get(reverse("pricing")).content.decode()
    for words in (
        "Free",
        "$29",
        "$99",
        "$299",
        "/month",
        "14-day Pro trial",
        "Read-only API, 60 requests/min",
    ):
        assert words in monthly
    assert "1 exchange account<" in monthly
    assert "Unlimited live bots" in monthly
    assert "5 team seats" in monthly
    yearly = client.get(reverse("pricing"), {"period": "yearly"}).content.decode()
    for words in ("$290", "$990", "$2,990", "/year", "You save $198 a year"):
        assert words in yearly
    assert client.get(reverse("pricing"), {"period": "weekly"}).status_code == 200  # read as monthly


def test_landing_and_sign_up_link_to_pricing(client: Client) -> None:
    assert 'href="/pricing/"' in client.get("/").content.decode()
    assert 'href="/pricing/"' in client.get(reverse("account_signup")).content.decode()


def test_the_billing_page_shows_the_trial_and_usage_against_every_limit(client: Client) -> None:
    user = make_user()
    paper_account_for(user)
    client.force_login(user)
    page = client.get(reverse("billing")).content.decode()
    assert "Your plan: Pro" in page
    assert "Trial of Pro" in page
    assert "Trial ends" in page
    for label in ("Live bots running", "Paper bots running", "Exchange accounts", "Backtests this month"):
        assert label in page
    assert "1 of 5" in page  # one exchange account of Pro's five
    assert "Full access, 1,000 requests/min" in page
    assert page.count("<meter") == 4


def test_after_the_trial_the_billing_page_says_free(client: Client) -> None:
    user = make_user()
    end_trial(user)
    client.force_login(user)
    page = client.get(reverse("billing")).content.decode()
    assert "Your plan: Free" in page
    assert "Trial ended" in page
    assert "0 of 0" in page  # live bots


def test_subscribe_offers_stripe_checkout_and_changes_nothing_until_paid(client: Client) -> None:
    user = make_user()
    client.force_login(user)
    page = client.get(reverse("billing_subscribe", args=["starter"])).content.decode()
    assert "Stripe's secure payment page" in page
    assert "Continue to payment" in page
    assert entitlements.subscription_for(user).status == SubscriptionStatus.TRIALING
    assert client.get(reverse("billing_subscribe", args=["platinum"])).status_code == 404
    assert Client().get(reverse("billing")).status_code == 302  # sign in first


@pytest.fixture
def staff_client(client: Client) -> Client:
    staff = make_user(email="staff@example.com", is_staff=True, is_superuser=True)
    device = twofactor.pending_totp_device(staff)
    twofactor.enable_two_factor(device)
    sign_in(client, staff.email)
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(device)})
    return client


def admin_form(subscription: Subscription, **changes: Any) -> dict[str, Any]:
    form = {
        "user": subscription.user_id,
        "plan": subscription.plan,
        "status": subscription.status,
        "trial_end_0": "",
        "trial_end_1": "",
        "current_period_end_0": "",
        "current_period_end_1": "",
    }
    if subscription.trial_end:
        form["trial_end_0"] = subscription.trial_end.strftime("%Y-%m-%d")
        form["trial_end_1"] = subscription.trial_end.strftime("%H:%M:%S")
    return {**form, **changes}


def test_staff_grant_a_plan_by_hand_with_an_audit_event(staff_client: Client) -> None:
    partner: User = make_user(email="partner@example.com")
    end_trial(partner)
    subscription = entitlements.subscription_for(partner)
    url = reverse("admin:billing_subscription_change", args=[subscription.pk])
    assert staff_client.get(url).status_code == 200
    response = staff_client.post(url, admin_form(subscription, plan="enterprise", status="active"))
    assert response.status_code == 302, response.content.decode()[:2000]

    subscription.refresh_from_db()
    assert (subscription.plan, subscription.status, subscription.granted_by_staff) == (
        "enterprise",
        "active",
        True,
    )
    entitlements.forget(partner)
    assert entitlements.plan_of(partner).code == PlanCode.ENTERPRISE
    event = AuditEvent.objects.get(action=STAFF_CHANGE)
    assert event.actor_email == "staff@example.com"
    assert event.details["user_email"] == "partner@example.com"
    assert event.details["changed"]["plan"] == ["pro", "enterprise"]
    assert event.details["changed"]["status"] == ["trialing", "active"]


def test_signing_up_opens_the_pro_trial(client: Client) -> None:
    response = client.post(
        "/accounts/signup/",
        {
            "email": "new.trader@example.com",
            "password1": "grids-all-the-way-down-9",
            "password2": "grids-all-the-way-down-9",
        },
    )
    assert response.status_code == 302
    subscription = Subscription.objects.get(user__email="new.trader@example.com")
    assert (subscription.plan, subscription.status) == ("pro", "trialing")
    assert subscription.trial_end == subscription.user.date_joined + timedelta(days=14)


def test_staff_list_trials_ending_this_week(staff_client: Client) -> None:
    ending, later, ended = (make_user(email=f"{name}@example.com") for name in ("ending", "later", "ended"))
    for user, days in ((ending, 3), (later, 10)):
        subscription = entitlements.subscription_for(user)
        subscription.trial_end = timezone.now() + timedelta(days=days)
        subscription.save()
    end_trial(ended)
    url = reverse("admin:billing_subscription_changelist")
    this_week = staff_client.get(url, {"trial": "ending_this_week"}).content.decode()
    assert "ending@example.com" in this_week
    assert "later@example.com" not in this_week
    assert "ended@example.com" not in this_week
    assert "ended@example.com" in staff_client.get(url, {"trial": "ended"}).content.decode()
