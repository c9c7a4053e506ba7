"""Every call Gridwise makes to Stripe, and how Stripe's subscription maps onto ours.

The catalogue (billing/plans.py) is kept in Stripe as one Product per paid plan and one
recurring Plan-price per period. Stripe Plans are also Prices (same id, usable wherever a price
id goes); we use the Plan API because localstripe has no /v1/prices. Each price carries
`metadata.lookup_key` (e.g. "gridwise_pro_monthly"): we resolve the price to charge by that key,
newest active first, so staff can add a new price in Stripe and deactivate the old one without
a deploy.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import stripe
from django.conf import settings
from django.http import Http404

from billing import plans
from billing.models import Subscription, SubscriptionStatus
from billing.plans import PlanCode

PERIOD_INTERVAL = {"monthly": "month", "yearly": "year"}
INTERVAL_PERIOD = {v: k for k, v in PERIOD_INTERVAL.items()}
CURRENCY = "usd"
SOURCE = "stripe"

# Stripe's subscription statuses, as ours. "incomplete" is a first payment not yet made: it
# grants nothing and changes nothing here.
STATUS_MAP = {
    "trialing": SubscriptionStatus.TRIALING,
    "active": SubscriptionStatus.ACTIVE,
    "past_due": SubscriptionStatus.PAST_DUE,
    "unpaid": SubscriptionStatus.PAST_DUE,
    "paused": SubscriptionStatus.PAST_DUE,
    "canceled": SubscriptionStatus.CANCELLED,
    "incomplete_expired": SubscriptionStatus.CANCELLED,
}


class BillingError(Exception):
    """Stripe refused (a declined card, a missing price): the message is safe to show."""


def key() -> str:
    return str(settings.STRIPE_SECRET_KEY)


def _when(timestamp: int | None) -> datetime | None:
    return datetime.fromtimestamp(timestamp, tz=UTC) if timestamp else None


# Catalogue ----------------------------------------------------------------------------------


def product_id(code: PlanCode) -> str:
    return f"gridwise_{code.value}"


def lookup_key(code: PlanCode, period: str) -> str:
    return f"gridwise_{code.value}_{period}"


def price_id(plan: plans.Plan, period: str) -> str:
    """The id a catalogue price is created under: its lookup key and amount, so a new amount
    is a new price and a second sync finds the first one."""
    cents = plan.yearly_cents if period == "yearly" else plan.monthly_cents
    return f"{lookup_key(plan.code, period)}_{cents}"


def _exists(resource: Any, object_id: str) -> Any | None:
    try:
        return resource.retrieve(object_id, api_key=key())
    except stripe.InvalidRequestError as exc:
        if exc.http_status == 404:
            return None
        raise


def sync_catalogue() -> list[str]:
    """Create what Stripe lacks of the catalogue; retire prices it no longer lists. Idempotent:
    returns what changed (nothing on a second run)."""
    changes: list[str] = []
    for plan in (plans.PLANS[code] for code in plans.ORDER):
        if plan.is_free:
            continue
        if _exists(stripe.Product, product_id(plan.code)) is None:
            stripe.Product.create(
                id=product_id(plan.code),
                name=f"Gridwise {plan.name}",
                metadata={"gridwise_plan": plan.code.value},
                api_key=key(),
            )
            changes.append(f"product {product_id(plan.code)}")
        for period in PERIOD_INTERVAL:
            changes += _sync_price(plan, period)
    return changes


def _sync_price(plan: plans.Plan, period: str) -> list[str]:
    wanted = price_id(plan, period)
    changes = []
    existing = _exists(stripe.Plan, wanted)
    if existing is not None and not _active(existing):
        stripe.Plan.modify(wanted, active=True, api_key=key())  # a price put back
        changes.append(f"price {wanted} reactivated")
    if existing is None:
        stripe.Plan.create(
            id=wanted,
            product=product_id(plan.code),
            amount=plan.yearly_cents if period == "yearly" else plan.monthly_cents,
            currency=CURRENCY,
            interval=PERIOD_INTERVAL[period],
            nickname=f"{plan.name} {period}",
            metadata={"lookup_key": lookup_key(plan.code, period), "gridwise_plan": plan.code.value},
            api_key=key(),
        )
        changes.append(f"price {wanted}")
    for old in _prices(plan.code, period):
        if old["id"] != wanted and old["metadata"].get("managed_by") != "staff":
            stripe.Plan.modify(old["id"], active=False, api_key=key())
            changes.append(f"retired {old['id']}")
    return changes


def _active(price: Any) -> bool:
    # localstripe stores an updated flag as the form string ("false"), and filters on it badly.
    return price["active"] in (True, "true")


def _prices(code: PlanCode, period: str) -> list[Any]:
    """The active prices with this plan and period's lookup key."""
    listed = stripe.Plan.list(product=product_id(code), limit=100, api_key=key())
    return [
        p for p in listed.data if _active(p) and p["metadata"].get("lookup_key") == lookup_key(code, period)
    ]


def current_price(code: PlanCode, period: str) -> str:
    """The price to charge for a plan and period: the newest active one with its lookup key."""
    prices = sorted(_prices(code, period), key=lambda p: p["created"], reverse=True)
    if not prices:
        raise BillingError("This plan is not on sale yet. Please try again later.")
    return str(prices[0]["id"])


# Customers ----------------------------------------------------------------------------------


def customer_id_of(user: Any) -> str | None:
    from djstripe.models import Customer

    customer = Customer.objects.filter(subscriber=user).order_by("-created").first()
    return customer.id if customer else None


def ensure_customer(user: Any) -> str:
    """dj-stripe's Customer for this user, created at Stripe the first time."""
    from djstripe.models import Customer

    existing = customer_id_of(user)
    if existing:
        return existing
    customer, _ = Customer.get_or_create(subscriber=user)
    return str(customer.id)


# Subscribing --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Card:
    number: str
    exp_month: int
    exp_year: int
    cvc: str


def _test_mode_only() -> None:
    if settings.STRIPE_LIVE_MODE or key().startswith("sk_live_"):
        # Live card numbers must never pass through our server: Checkout and the portal take them.
        raise BillingError("Card entry on this page is for test mode only.")


def _make_default_card(customer: str, card: Card) -> str:
    method = stripe.PaymentMethod.create(
        type="card",
        card={"number": card.number, "exp_month": card.exp_month, "exp_year": card.exp_year, "cvc": card.cvc},
        api_key=key(),
    )
    stripe.PaymentMethod.attach(method.id, customer=customer, api_key=key())
    stripe.Customer.modify(customer, invoice_settings={"default_payment_method": method.id}, api_key=key())
    return str(method.id)


def subscribe_with_card(user: Any, code: PlanCode, period: str, card: Card) -> Any:
    """The card page's path (localstripe has no hosted Checkout): the card becomes the
    customer's default payment method and the subscription is created through the API."""
    _test_mode_only()
    customer = ensure_customer(user)
    price = current_price(code, period)
    try:
        _make_default_card(customer, card)
        subscription = stripe.Subscription.create(
            customer=customer,
            items=[{"plan": price}],
            metadata={"gridwise_user": str(user.pk)},
            api_key=key(),
        )
    except stripe.CardError as exc:
        raise BillingError(exc.user_message or "The card was declined.") from exc
    if subscription["status"] not in ("active", "trialing"):
        raise BillingError("The card was declined. No subscription was started.")
    return subscription


def replace_card(user: Any, card: Card) -> list[str]:
    """The card page's other path: the new card becomes the default, and every invoice left
    open by the old one is paid with it at once rather than at Stripe's next retry. Returns the
    ids of the invoices still open (the new card was declined for them too)."""
    _test_mode_only()
    customer = customer_id_of(user)
    if not customer:
        raise BillingError("There is no card to replace: subscribe first.")
    try:
        _make_default_card(customer, card)
    except stripe.CardError as exc:
        raise BillingError(exc.user_message or "The card was declined.") from exc
    return [invoice_id for invoice_id in _open_invoices(customer) if not _pay(invoice_id)]


def _open_invoices(customer: str) -> list[str]:
    listed: Any = stripe.Invoice.list(customer=customer, limit=100, api_key=key())
    return [str(invoice["id"]) for invoice in listed["data"] if invoice["status"] == "open"]


def _pay(invoice_id: str) -> bool:
    try:
        paid: Any = stripe.Invoice.pay(invoice_id, api_key=key())
    except stripe.CardError:
        return False
    return str(paid["status"]) == "paid"


def portal_url(user: Any, *, return_url: str) -> str:
    """Stripe's customer portal, where the production path changes cards."""
    customer = customer_id_of(user)
    if not customer:
        raise BillingError("There is no card to replace: subscribe first.")
    session = stripe.billing_portal.Session.create(customer=customer, return_url=return_url, api_key=key())
    return str(session["url"])


def start_checkout(user: Any, code: PlanCode, period: str, *, success_url: str, cancel_url: str) -> str:
    """Stripe Checkout's path: a session for this customer and price; returns its URL."""
    customer = ensure_customer(user)
    session = stripe.checkout.Session.create(
        mode="subscription",
        customer=customer,
        client_reference_id=str(user.pk),
        line_items=[{"price": current_price(code, period), "quantity": 1}],
        success_url=success_url,
        cancel_url=cancel_url,
        api_key=key(),
    )
    return str(session["url"])


# Stripe's subscription → ours ---------------------------------------------------------------


def _first_item(data: Any) -> Any:
    return data["items"]["data"][0]


def _price_of(data: Any) -> Any:
    item = _first_item(data)
    return item.get("price") or item.get("plan")


def plan_code_of(price: Any) -> str:
    code = price["metadata"].get("gridwise_plan") if price.get("metadata") else None
    if code in {c.value for c in PlanCode}:
        return str(code)
    raise BillingError(f"Stripe price {price['id']} names no Gridwise plan")


def period_end_of(data: Any) -> int | None:
    """Top-level before Stripe's 2025-03-31 API, on the item since."""
    end = data.get("current_period_end") or _first_item(data).get("current_period_end")
    return int(end) if end else None


def sync_subscription(stripe_subscription_id: str) -> Subscription | None:
    """Fetch the subscription from Stripe (never trust an event's copy, which may be older than
    one already applied) and apply it to its user's billing.Subscription."""
    from billing import entitlements, lifecycle

    data: Any = stripe.Subscription.retrieve(stripe_subscription_id, api_key=key())
    user = user_of_customer(str(data["customer"]))
    status = STATUS_MAP.get(str(data["status"]))
    if status is None:
        return None
    subscription = Subscription.objects.select_for_update().get(pk=entitlements.subscription_for(user).pk)
    lifecycle.apply_subscription_state(
        subscription,
        plan=plan_code_of(_price_of(data)),
        status=status,
        current_period_end=_when(period_end_of(data)),
        cancel_at_period_end=bool(data.get("cancel_at_period_end")),
        trial_end=_when(data.get("trial_end")),
        stripe_subscription_id=str(data["id"]),
        source=SOURCE,
    )
    entitlements.forget(user)
    return subscription


def user_of_customer(customer_id: str) -> Any:
    from djstripe.models import Customer

    customer = Customer.objects.filter(id=customer_id).select_related("subscriber").first()
    if customer is None or customer.subscriber is None:
        # Raising makes the webhook fail, so Stripe retries it once the customer is linked.
        raise LookupError(f"Stripe customer {customer_id} is linked to no Gridwise user")
    return customer.subscriber


# The billing page ---------------------------------------------------------------------------


@dataclass(frozen=True)
class InvoiceRow:
    id: str
    number: str
    created: datetime | None
    amount_cents: int
    currency: str
    status: str
    pdf_url: str

    @property
    def amount(self) -> str:
        return plans.dollars(self.amount_cents)


def _invoice_row(data: Any) -> InvoiceRow:
    return InvoiceRow(
        id=str(data["id"]),
        number=str(data.get("number") or data["id"]),
        created=_when(data.get("created") or data.get("date")),
        amount_cents=int(data.get("total") or data.get("amount_due") or 0),
        currency=str(data.get("currency") or CURRENCY).upper(),
        status=str(data.get("status") or ("paid" if data.get("paid") else "open")),
        pdf_url=str(data.get("invoice_pdf") or data.get("hosted_invoice_url") or ""),
    )


def invoices_of(user: Any, limit: int = 24) -> list[InvoiceRow]:
    customer = customer_id_of(user)
    if not customer:
        return []
    listed = stripe.Invoice.list(customer=customer, limit=limit, api_key=key())
    return [_invoice_row(data) for data in listed.data]


def invoice_of(user: Any, invoice_id: str) -> tuple[InvoiceRow, list[tuple[str, int]]]:
    """One of this user's invoices with its lines; anyone else's, or none, is a 404."""
    customer = customer_id_of(user)
    if not customer or not invoice_id.startswith("in_"):
        raise Http404("No such invoice.")
    try:
        data = stripe.Invoice.retrieve(invoice_id, api_key=key())
    except stripe.InvalidRequestError as exc:
        raise Http404("No such invoice.") from exc
    if data["customer"] != customer:
        raise Http404("No such invoice.")
    lines = [(str(line.get("description") or ""), int(line["amount"])) for line in data["lines"]["data"]]
    return _invoice_row(data), lines


@dataclass(frozen=True)
class PaymentMethod:
    brand: str
    last4: str
    exp_month: int
    exp_year: int

    @property
    def expiry(self) -> str:
        return f"{self.exp_month:02d}/{self.exp_year}"


def payment_method_of(user: Any) -> PaymentMethod | None:
    customer = customer_id_of(user)
    if not customer:
        return None
    data: Any = stripe.Customer.retrieve(customer, api_key=key())
    method_id = (data.get("invoice_settings") or {}).get("default_payment_method")
    if not method_id:
        return None
    card = stripe.PaymentMethod.retrieve(str(method_id), api_key=key())["card"]
    return PaymentMethod(
        str(card["brand"]), str(card["last4"]), int(card["exp_month"]), int(card["exp_year"])
    )


# Changing the subscription ------------------------------------------------------------------


def _own_subscription(subscription: Subscription) -> Any:
    if not subscription.stripe_subscription_id:
        raise BillingError("You have no paid subscription to change.")
    return stripe.Subscription.retrieve(subscription.stripe_subscription_id, api_key=key())


@dataclass(frozen=True)
class Proration:
    """What changing plan now costs (positive) or credits (negative), in cents."""

    plan: plans.Plan
    period: str
    price_id: str
    new_cents: int
    cents: int
    period_end: datetime | None

    @property
    def new_price(self) -> str:
        return plans.dollars(self.new_cents) + ("/year" if self.period == "yearly" else "/month")

    @property
    def amount(self) -> str:
        sign = "-" if self.cents < 0 else ""
        return sign + plans.dollars(abs(self.cents))


def preview_change(subscription: Subscription, code: PlanCode, period: str, now: datetime) -> Proration:
    """The proration for switching now: the new price for the rest of the period, less the
    unused part of the old one. Computed from the period and the prices because localstripe's
    invoice preview does not prorate (docs/architecture.md)."""
    data = _own_subscription(subscription)
    new_price_id = current_price(code, period)
    new_price = stripe.Plan.retrieve(new_price_id, api_key=key())
    old = _price_of(data)
    if old["id"] == new_price_id:
        raise BillingError(f"You are already on {plans.PLANS[code].name}, billed {period}.")
    start, end = int(data.get("current_period_start") or 0), period_end_of(data) or 0
    left = max(0, end - int(now.timestamp()))
    span = max(1, end - start)
    unused = int(old["amount"]) * left // span
    if new_price["interval"] != old["interval"]:
        # A new interval starts a new period at once: the full new price, less the unused time.
        cents = int(new_price["amount"]) - unused
    else:
        cents = int(new_price["amount"]) * left // span - unused
    return Proration(plans.PLANS[code], period, new_price_id, int(new_price["amount"]), cents, _when(end))


def change_plan(subscription: Subscription, price: str) -> None:
    data = _own_subscription(subscription)
    stripe.Subscription.modify(
        data["id"],
        # Stripe prorates by default (proration_behavior=create_prorations), which localstripe
        # does too but refuses the parameter itself.
        items=[{"id": _first_item(data)["id"], "plan": price}],
        api_key=key(),
    )
    sync_subscription(str(data["id"]))


def set_cancel_at_period_end(subscription: Subscription, cancel: bool) -> None:
    data = _own_subscription(subscription)
    stripe.Subscription.modify(data["id"], cancel_at_period_end=cancel, api_key=key())
    sync_subscription(str(data["id"]))


def period_of(subscription: Subscription) -> str:
    """The billing period ("monthly"/"yearly") of the user's Stripe subscription."""
    data = _own_subscription(subscription)
    return INTERVAL_PERIOD.get(str(_price_of(data)["interval"]), "monthly")
