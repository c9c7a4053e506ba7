"""The pricing page, the account's billing page, and the Stripe actions behind its buttons."""

from __future__ import annotations

from typing import Any

import stripe
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from billing import actions, entitlements, plans, stripe_api
from billing.forms import CardForm
from billing.plans import PlanCode
from billing.stripe_api import BillingError

# Stripe unreachable or refusing: said plainly, and nothing was charged by us.
UNAVAILABLE = "Payments are unavailable right now. Nothing was charged; please try again in a few minutes."

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


def _stripe_side(user: Any) -> dict[str, Any]:
    """Invoices and the card, from Stripe; a Stripe outage leaves the rest of the page working."""
    try:
        return {"invoices": stripe_api.invoices_of(user), "card": stripe_api.payment_method_of(user)}
    except Exception:  # noqa: BLE001 - any failure of the payment provider reads the same
        return {"invoices": [], "card": None, "stripe_unreachable": True}


@login_required
def billing(request: HttpRequest) -> HttpResponse:
    subscription = entitlements.subscription_for(request.user)
    plan = entitlements.plan_in_force(subscription)
    paid = bool(subscription.stripe_subscription_id) and subscription.status != "cancelled"
    context = {
        "subscription": subscription,
        "plan": plan,
        "paid": paid,
        "trial_running": subscription.trial_running(),
        "trial_ended": subscription.status == "trialing" and not subscription.trial_running(),
        "usage": entitlements.usage(request.user),
        "now": timezone.now(),
        "other_offers": [plans.PLANS[code] for code in plans.ORDER if not plans.PLANS[code].is_free],
        **_stripe_side(request.user),
    }
    return render(request, "billing/billing.html", context)


def _offer(code: str, period: str) -> plans.Offer:
    try:
        return plans.Offer(plans.PLANS[PlanCode(code)], period)
    except ValueError as exc:
        raise Http404("No such plan.") from exc


@login_required
def subscribe(request: HttpRequest, code: str) -> HttpResponse:
    """Stripe Checkout in production; against localstripe, our own card page (setting
    BILLING_CHECKOUT)."""
    period = request.POST.get("period") or _period(request)
    offer = _offer(code, period if period in PERIODS else "monthly")
    card_page = settings.BILLING_CHECKOUT == "card"
    form = CardForm(request.POST or None) if card_page else None
    error = ""
    if request.method == "POST":
        try:
            plan, period = actions.check_subscribe(request.user, code, period)
            if not card_page:
                return redirect(_checkout_url(request, plan, period))
            if form is not None and form.is_valid():
                actions.do_subscribe_with_card(request.user, plan, period, form.card())
                messages.success(request, f"You are subscribed to {offer.plan.name}. Thank you!")
                return redirect("billing")
        except BillingError as exc:
            error = str(exc)
        except stripe.StripeError:
            error = UNAVAILABLE
    context = {"offer": offer, "plan": offer.plan, "period": offer.period, "form": form, "error": error}
    return render(
        request, "billing/subscribe.html", context, status=400 if error or (form and form.errors) else 200
    )


def _checkout_url(request: HttpRequest, plan: PlanCode, period: str) -> str:
    back = request.build_absolute_uri(reverse("billing"))
    return stripe_api.start_checkout(
        request.user,
        plan,
        period,
        success_url=f"{back}?checkout=done",
        cancel_url=request.build_absolute_uri(reverse("pricing")) + f"?period={period}",
    )


@login_required
def change_plan(request: HttpRequest) -> HttpResponse:
    """GET: the proration for the chosen plan, to confirm. POST: switch."""
    source = request.POST if request.method == "POST" else request.GET
    try:
        subscription, plan, period = actions.check_change_plan(
            request.user, source.get("plan", ""), source.get("period", "monthly")
        )
        proration = stripe_api.preview_change(subscription, plan, period, timezone.now())
        if request.method == "POST":
            if source.get("price") != proration.price_id:
                raise BillingError("The price changed since you looked: please review it again.")
            actions.do_change_plan(subscription, proration.price_id)
            messages.success(request, f"Your plan is now {proration.plan.name}.")
            return redirect("billing")
    except BillingError as exc:
        messages.error(request, str(exc))
        return redirect("billing")
    except stripe.StripeError:
        messages.error(request, UNAVAILABLE)
        return redirect("billing")
    return render(request, "billing/change.html", {"proration": proration, "subscription": subscription})


def _set_cancel(request: HttpRequest, *, cancel: bool) -> HttpResponse:
    try:
        subscription = actions.check_cancel(request.user, cancel=cancel)
        actions.do_set_cancel_at_period_end(subscription, cancel=cancel)
    except BillingError as exc:
        messages.error(request, str(exc))
    except stripe.StripeError:
        messages.error(request, UNAVAILABLE)
    else:
        messages.success(
            request,
            "Your subscription ends at the end of the period."
            if cancel
            else "Your subscription renews again.",
        )
    return redirect("billing")


@require_POST
@login_required
def cancel(request: HttpRequest) -> HttpResponse:
    return _set_cancel(request, cancel=True)


@require_POST
@login_required
def resume(request: HttpRequest) -> HttpResponse:
    return _set_cancel(request, cancel=False)


@login_required
def card(request: HttpRequest) -> HttpResponse:
    """Replace the card: our own card page against localstripe, Stripe's customer portal in
    production (setting BILLING_CHECKOUT). Open invoices are paid with the new card at once."""
    card_page = settings.BILLING_CHECKOUT == "card"
    form = CardForm(request.POST or None) if card_page else None
    error = ""
    if request.method == "POST":
        try:
            if not card_page:
                return redirect(
                    stripe_api.portal_url(
                        request.user, return_url=request.build_absolute_uri(reverse("billing"))
                    )
                )
            if form is not None and form.is_valid():
                actions.do_replace_card(request.user, form.card())
                messages.success(request, "Your new card is saved.")
                return redirect("billing")
        except BillingError as exc:
            error = str(exc)
        except stripe.StripeError:
            error = UNAVAILABLE
    status = 400 if error or (form and form.errors) else 200
    return render(request, "billing/card.html", {"form": form, "error": error}, status=status)


@login_required
def invoice(request: HttpRequest, invoice_id: str) -> HttpResponse:
    row, lines = stripe_api.invoice_of(request.user, invoice_id)
    lines_shown = [(text, plans.dollars(abs(cents)), cents < 0) for text, cents in lines]
    return render(request, "billing/invoice.html", {"invoice": row, "lines": lines_shown})
