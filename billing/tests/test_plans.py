from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from accounts.tests.factories import make_user
from billing import entitlements, plans
from billing.models import Subscription, SubscriptionStatus
from billing.plans import PLANS, PlanCode
from billing.tests.helpers import end_trial, put_on_plan


def test_the_catalogue_prices_in_cents_with_two_months_free_a_year() -> None:
    assert [PLANS[code].monthly_cents for code in plans.ORDER] == [0, 2900, 9900, 29900]
    assert PLANS[PlanCode.STARTER].yearly_cents == 29000
    assert PLANS[PlanCode.PRO].yearly_cents == 99000
    offer = plans.Offer(PLANS[PlanCode.ENTERPRISE], "yearly")
    assert (offer.price, offer.per, offer.saving) == ("$2,990", "/year", "$598")


def test_the_catalogue_carries_the_limits_table() -> None:
    free, starter, pro, enterprise = (PLANS[code] for code in plans.ORDER)
    assert (free.live_bots, free.paper_bots, free.exchange_accounts, free.backtests_per_month) == (0, 3, 1, 5)
    assert (free.api_access, free.api_requests_per_minute, free.webhooks) == ("read", 60, False)
    assert (
        starter.live_bots,
        starter.paper_bots,
        starter.exchange_accounts,
        starter.backtests_per_month,
    ) == (
        3,
        10,
        2,
        50,
    )
    assert (starter.api_requests_per_minute, starter.webhooks) == (300, True)
    assert (pro.live_bots, pro.paper_bots, pro.exchange_accounts, pro.backtests_per_month) == (15, 50, 5, 500)
    assert pro.api_requests_per_minute == 1000
    assert enterprise.live_bots is enterprise.api_requests_per_minute is None
    assert enterprise.team_seats == 5


def test_the_cheapest_plan_lifting_a_limit_is_suggested() -> None:
    assert plans.cheapest_lifting(plans.LIVE_BOTS, 1) == PLANS[PlanCode.STARTER]
    assert plans.cheapest_lifting(plans.LIVE_BOTS, 4) == PLANS[PlanCode.PRO]
    assert plans.cheapest_lifting(plans.LIVE_BOTS, 16) == PLANS[PlanCode.ENTERPRISE]
    assert plans.cheapest_lifting(plans.WEBHOOKS, 1) == PLANS[PlanCode.STARTER]


@pytest.mark.django_db
def test_a_new_user_is_on_a_fourteen_day_pro_trial_without_a_card() -> None:
    user = make_user()
    subscription = entitlements.subscription_for(user)
    assert subscription.status == SubscriptionStatus.TRIALING
    assert subscription.plan == PlanCode.PRO
    assert subscription.stripe_subscription_id is None
    assert subscription.trial_end == user.date_joined + timedelta(days=14)
    assert entitlements.plan_of(user).code == PlanCode.PRO


@pytest.mark.django_db
def test_the_trial_falls_back_to_free_on_read_when_it_ends() -> None:
    user = make_user()
    end_trial(user)
    assert entitlements.plan_of(user).code == PlanCode.FREE
    # Nothing had to run: the row still says "trialing", the plan in force is read from the date.
    assert Subscription.objects.get(user=user).status == SubscriptionStatus.TRIALING


@pytest.mark.django_db
def test_a_user_who_joined_long_ago_reads_as_free_at_the_first_question() -> None:
    user = make_user()
    user.date_joined = timezone.now() - timedelta(days=30)
    user.save()
    assert entitlements.plan_of(user).code == PlanCode.FREE


@pytest.mark.django_db
def test_a_subscriber_keeps_the_plan_after_the_trial_date() -> None:
    user = make_user()
    subscription = put_on_plan(user, PlanCode.STARTER)
    subscription.trial_end = timezone.now() - timedelta(days=1)
    subscription.save()
    entitlements.forget(user)
    assert entitlements.plan_of(user).code == PlanCode.STARTER


@pytest.mark.django_db
def test_a_cancellation_keeps_the_plan_until_the_period_ends() -> None:
    user = make_user()
    subscription = put_on_plan(user, PlanCode.PRO)
    subscription.cancel_at_period_end = True
    subscription.current_period_end = timezone.now() + timedelta(days=3)
    subscription.save()
    assert entitlements.plan_in_force(subscription).code == PlanCode.PRO
    later = timezone.now() + timedelta(days=4)
    assert entitlements.plan_in_force(subscription, later).code == PlanCode.FREE
    subscription.status = SubscriptionStatus.CANCELLED
    assert entitlements.plan_in_force(subscription).code == PlanCode.FREE


@pytest.mark.django_db
def test_a_staff_grant_with_an_end_date_ends_on_read() -> None:
    user = make_user()
    subscription = put_on_plan(user, PlanCode.ENTERPRISE)
    subscription.granted_by_staff = True
    subscription.current_period_end = timezone.now() - timedelta(seconds=1)
    assert entitlements.plan_in_force(subscription).code == PlanCode.FREE
