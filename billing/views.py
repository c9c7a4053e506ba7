"""The public pricing page, the account's billing page, and the checkout placeholder."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from billing import entitlements, plans
from billing.plans import PlanCode

PERIODS = ("monthly", "yearly")


def _period(request: HttpRequest) -> str:
    period = request.GET.get("period", "monthly")
    return period if period in PERIODS else "monthly"


def pricing(request: HttpRequest) -> HttpResponse:
    current = entitlements.plan_of(request.user).code if request.user.is_authenticated else None
    context = {
        "offers": [plans.Offer(plans.PLANS[code], _period(request)) for code in plans.ORDER],
        "period": _period(request),
        "current": current,
        "trial_days": entitlements.trial_days(),
    }
    return render(request, "billing/pricing.html", context)


@login_required
def billing(request: HttpRequest) -> HttpResponse:
    subscription = entitlements.subscription_for(request.user)
    plan = entitlements.plan_in_force(subscription)
    context = {
        "subscription": subscription,
        "plan": plan,
        "trial_running": subscription.trial_running(),
        "trial_ended": subscription.status == "trialing" and not subscription.trial_running(),
        "usage": entitlements.usage(request.user),
        "now": timezone.now(),
    }
    return render(request, "billing/billing.html", context)


@login_required
def subscribe(request: HttpRequest, code: str) -> HttpResponse:
    """Card payments are not connected yet: this page says so rather than pretend."""
    try:
        plan = plans.PLANS[PlanCode(code)]
    except ValueError as exc:
        raise Http404("No such plan.") from exc
    return render(request, "billing/subscribe.html", {"plan": plan, "period": _period(request)})
