"""Stripe billing against a real localstripe: the catalogue, subscribing with Stripe's test card,
signed webhooks (once only, retried after a failure, out of order), and the billing page."""

from __future__ import annotations

from typing import Any

import pytest
import stripe
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from djstripe.models import Event, WebhookEventTrigger

from accounts.models import User
from accounts.tests.factories import make_user
from billing import entitlements, stripe_api, webhooks
from billing.models import Subscription, SubscriptionStatus
from billing.plans import PlanCode
from billing.stripe_server import LocalStripe, free_port, use_api_base
from billing.tests.conftest import events_from_localstripe, post_event

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

CARD = {"number": "4242 4242 4242 4242", "expiry": "12/34", "cvc": "123", "period": "monthly"}


@pytest.fixture(autouse=True)
def _card_page(settings) -> None:
    settings.BILLING_CHECKOUT = "card"


def subscribe(client: Client, plan: str = "pro", **changes: str) -> Any:
    return client.post(reverse("billing_subscribe", args=[plan]), {**CARD, **changes})


def stripe_id_of(user: User) -> str:
    found = fresh(user).stripe_subscription_id
    assert found is not None
    return found


def fresh(user: User) -> Subscription:
    entitlements.forget(user)
    return Subscription.objects.get(user=user)


def test_sync_plans_creates_the_catalogue_once(localstripe: LocalStripe, db: None, capsys) -> None:
    use_api_base(localstripe.url)
    call_command("sync_plans")
    call_command("sync_plans")
    assert "(0 changes)" in capsys.readouterr().out.splitlines()[-1]
    assert stripe_api.current_price(PlanCode.PRO, "monthly") == "gridwise_pro_monthly_9900"
    yearly = stripe.Plan.retrieve(
        stripe_api.current_price(PlanCode.STARTER, "yearly"), api_key=stripe_api.key()
    )
    assert (yearly["amount"], yearly["interval"]) == (29000, "year")  # two months free


def test_a_new_price_retires_the_old_one(stripe_server: LocalStripe, monkeypatch) -> None:
    from billing import plans

    raised = plans.Plan(**{**plans.PLANS[PlanCode.STARTER].__dict__, "monthly_cents": 3900})
    monkeypatch.setitem(plans.PLANS, PlanCode.STARTER, raised)
    changes = stripe_api.sync_catalogue()
    assert "price gridwise_starter_monthly_3900" in changes
    assert "retired gridwise_starter_monthly_2900" in changes
    assert stripe_api.current_price(PlanCode.STARTER, "monthly") == "gridwise_starter_monthly_3900"


def test_sign_up_trial_subscribe_webhook_cancel_and_resume(stripe_server: LocalStripe) -> None:
    client = Client()
    password = "a-long-test-password-1"
    client.post(
        "/accounts/signup/", {"email": "payer@example.com", "password1": password, "password2": password}
    )
    user = User.objects.get(email="payer@example.com")
    client.force_login(user)
    assert fresh(user).status == SubscriptionStatus.TRIALING

    refused = subscribe(client, number="4242 4242 4242 4241")
    assert refused.status_code == 400
    assert "not valid" in refused.content.decode()
    assert fresh(user).stripe_subscription_id is None

    response = subscribe(client)
    assert response.status_code == 302
    subscription = fresh(user)
    assert (subscription.plan, subscription.status) == ("pro", SubscriptionStatus.ACTIVE)
    assert stripe_id_of(user).startswith("sub_")
    assert subscription.current_period_end is not None

    (created,) = events_from_localstripe(stripe_server, "customer.subscription.created", stripe_id_of(user))
    assert post_event(Client(), created).status_code == 200
    assert fresh(user).status == SubscriptionStatus.ACTIVE
    assert Event.objects.filter(id=created["id"]).exists()

    page = client.get(reverse("billing")).content.decode()
    assert "$99" in page  # the first invoice
    assert "ending in <strong>4242</strong>, expires 12/2034" in page
    assert page.count("<meter") == 4  # usage bars kept

    assert client.post(reverse("billing_cancel")).status_code == 302
    assert fresh(user).cancel_at_period_end is True
    remote = stripe.Subscription.retrieve(stripe_id_of(user), api_key=stripe_api.key())
    assert remote["cancel_at_period_end"] is True
    assert "Resume subscription" in client.get(reverse("billing")).content.decode()

    assert client.post(reverse("billing_resume")).status_code == 302
    assert fresh(user).cancel_at_period_end is False
    assert client.get(reverse("billing_cancel")).status_code == 405  # POST only


def test_change_plan_shows_the_proration_before_confirming(stripe_server: LocalStripe) -> None:
    user = make_user()
    client = Client()
    client.force_login(user)
    first = subscribe(client, "starter")
    assert first.status_code == 302, first.content.decode()[-3000:]
    preview = client.get(reverse("billing_change"), {"plan": "pro", "period": "monthly"})
    page = preview.content.decode()
    assert preview.status_code == 200
    # Moments into the period the whole difference is due: $99 less the unused $29.
    assert '<dd id="proration">$70</dd>' in page
    assert fresh(user).plan == "starter"  # nothing changed yet
    same = client.get(reverse("billing_change"), {"plan": "starter", "period": "monthly"}, follow=True)
    assert "You are already on Starter, billed monthly." in same.content.decode()
    confirmed = client.post(
        reverse("billing_change"), {"plan": "pro", "period": "monthly", "price": "gridwise_pro_monthly_9900"}
    )
    assert confirmed.status_code == 302
    assert fresh(user).plan == "pro"


def test_a_replayed_webhook_changes_nothing(stripe_server: LocalStripe) -> None:
    user = make_user()
    client = Client()
    client.force_login(user)
    subscribe(client)
    stripe_id = stripe_id_of(user)
    (created,) = events_from_localstripe(stripe_server, "customer.subscription.created", stripe_id)
    assert post_event(Client(), created).status_code == 200
    # Staff moved the user by hand since; a replay of the old event must not undo it.
    Subscription.objects.filter(user=user).update(plan="enterprise")
    assert post_event(Client(), created).status_code == 200
    assert fresh(user).plan == "enterprise"
    assert Event.objects.filter(id=created["id"]).count() == 1
    assert WebhookEventTrigger.objects.filter(event_id=created["id"], processed=True).count() == 2


def test_an_update_before_its_create_ends_in_stripes_state(stripe_server: LocalStripe) -> None:
    user = make_user()
    client = Client()
    client.force_login(user)
    subscribe(client)
    stripe_id = stripe_id_of(user)
    stripe.Subscription.modify(stripe_id, cancel_at_period_end=True, api_key=stripe_api.key())
    # Our side never heard of it: back to the trial.
    Subscription.objects.filter(user=user).update(
        status=SubscriptionStatus.TRIALING, stripe_subscription_id=None, cancel_at_period_end=False
    )
    (created,) = events_from_localstripe(stripe_server, "customer.subscription.created", stripe_id)
    # localstripe sends no customer.subscription.updated: this one is shaped as Stripe's would be.
    current = stripe.Subscription.retrieve(stripe_id, api_key=stripe_api.key())
    updated = {
        **created,
        "id": created["id"] + "u",
        "type": "customer.subscription.updated",
        "created": created["created"] + 1,
        "data": {"object": current.to_dict(), "previous_attributes": {"cancel_at_period_end": False}},
    }
    assert post_event(Client(), updated).status_code == 200
    assert post_event(Client(), created).status_code == 200  # arrives last, carries the older copy
    subscription = fresh(user)
    assert (subscription.status, subscription.stripe_subscription_id) == (
        SubscriptionStatus.ACTIVE,
        stripe_id,
    )
    assert subscription.cancel_at_period_end is True


def test_a_bad_signature_is_400_and_changes_nothing(stripe_server: LocalStripe) -> None:
    user = make_user()
    client = Client()
    client.force_login(user)
    subscribe(client)
    stripe_id = stripe_id_of(user)
    Subscription.objects.filter(user=user).update(status=SubscriptionStatus.TRIALING)
    (created,) = events_from_localstripe(stripe_server, "customer.subscription.created", stripe_id)
    assert post_event(Client(), created, secret="whsec_someone_else").status_code == 400
    unsigned = Client().post(webhooks.webhook_path(), created, content_type="application/json")
    assert unsigned.status_code == 400
    assert fresh(user).status == SubscriptionStatus.TRIALING
    assert not Event.objects.filter(id=created["id"]).exists()


def test_a_failed_handler_is_retried(stripe_server: LocalStripe) -> None:
    user = make_user()
    client = Client()
    client.force_login(user)
    subscribe(client)
    stripe_id = stripe_id_of(user)
    Subscription.objects.filter(user=user).update(status=SubscriptionStatus.TRIALING)
    (created,) = events_from_localstripe(stripe_server, "customer.subscription.created", stripe_id)
    use_api_base(f"http://127.0.0.1:{free_port()}")  # Stripe unreachable: the handler cannot fetch
    stripe.max_network_retries = 0
    failed = Client(raise_request_exception=False)
    assert post_event(failed, created).status_code == 500
    assert not Event.objects.filter(id=created["id"]).exists()  # rolled back, so not "seen"
    assert fresh(user).status == SubscriptionStatus.TRIALING
    use_api_base(stripe_server.url)
    assert post_event(Client(), created).status_code == 200  # Stripe's retry
    assert fresh(user).status == SubscriptionStatus.ACTIVE


def test_a_failed_payment_marks_the_subscription_past_due(stripe_server: LocalStripe) -> None:
    user = make_user()
    client = Client()
    client.force_login(user)
    subscribe(client)
    (invoice,) = stripe_api.invoices_of(user)
    event = {
        "id": "evt_payment_failed_1",
        "object": "event",
        "type": "invoice.payment_failed",
        "livemode": False,
        "api_version": "2017-08-15",
        "created": 1_796_000_000,
        "data": {"object": {"id": invoice.id, "object": "invoice"}},
    }
    assert post_event(Client(), event).status_code == 200
    assert fresh(user).status == SubscriptionStatus.PAST_DUE


def test_invoices_are_the_owners_only(stripe_server: LocalStripe) -> None:
    owner, stranger = make_user(email="owner@example.com"), make_user(email="stranger@example.com")
    client = Client()
    client.force_login(owner)
    subscribe(client)
    (invoice,) = stripe_api.invoices_of(owner)
    page = client.get(reverse("billing_invoice", args=[invoice.id]))
    assert page.status_code == 200
    assert '<dd id="invoice-total">$99 USD</dd>' in page.content.decode()
    other = Client()
    other.force_login(stranger)
    assert other.get(reverse("billing_invoice", args=[invoice.id])).status_code == 404
    subscribe(other, "starter")  # a customer of their own: still not theirs
    assert other.get(reverse("billing_invoice", args=[invoice.id])).status_code == 404
    assert other.get(reverse("billing_invoice", args=["in_nonexistent"])).status_code == 404


def test_stripe_unreachable_is_said_plainly(stripe_server: LocalStripe) -> None:
    user = make_user()
    client = Client()
    client.force_login(user)
    use_api_base(f"http://127.0.0.1:{free_port()}")
    stripe.max_network_retries = 0
    try:
        response = subscribe(client)
        assert response.status_code == 400
        assert "Payments are unavailable right now. Nothing was charged" in response.content.decode()
        assert client.get(reverse("billing")).status_code == 200  # the page still works
    finally:
        use_api_base(stripe_server.url)
    assert fresh(user).status == SubscriptionStatus.TRIALING


def test_invoice_paid_brings_a_past_due_subscription_back(stripe_server: LocalStripe) -> None:
    user = make_user()
    client = Client()
    client.force_login(user)
    subscribe(client)
    Subscription.objects.filter(user=user).update(status=SubscriptionStatus.PAST_DUE)
    (invoice,) = stripe_api.invoices_of(user)
    data = stripe.Invoice.retrieve(invoice.id, api_key=stripe_api.key()).to_dict()
    event = {
        "id": "evt_invoice_paid_1",
        "object": "event",
        "type": "invoice.paid",  # localstripe sends invoice.payment_succeeded; Stripe sends both
        "livemode": False,
        "api_version": "2017-08-15",
        "created": 1_796_000_000,
        "data": {"object": data},
    }
    assert post_event(Client(), event).status_code == 200
    assert fresh(user).status == SubscriptionStatus.ACTIVE


def decline_the_next_renewal(user: User) -> str:
    """Stripe's side: the card on file starts being declined and a renewal invoice fails."""
    customer = stripe_api.customer_id_of(user)
    assert customer is not None
    declining = stripe.PaymentMethod.create(
        type="card",
        card={"number": "4000000000000341", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        api_key=stripe_api.key(),
    )
    stripe.PaymentMethod.attach(declining.id, customer=customer, api_key=stripe_api.key())
    stripe.Customer.modify(
        customer, invoice_settings={"default_payment_method": declining.id}, api_key=stripe_api.key()
    )
    renewal = stripe.Invoice.create(
        customer=customer, subscription=stripe_id_of(user), api_key=stripe_api.key()
    )
    assert stripe.Invoice.pay(renewal.id, api_key=stripe_api.key())["status"] == "open"
    event = {
        "id": f"evt_renewal_failed_{renewal.id}",
        "object": "event",
        "type": "invoice.payment_failed",
        "livemode": False,
        "api_version": "2017-08-15",
        "created": 1_796_000_000,
        "data": {"object": {"id": renewal.id, "object": "invoice"}},
    }
    assert post_event(Client(), event).status_code == 200
    return str(renewal.id)


def test_a_new_card_pays_the_failed_renewal_and_ends_past_due(stripe_server: LocalStripe) -> None:
    user = make_user()
    client = Client()
    client.force_login(user)
    subscribe(client)
    renewal = decline_the_next_renewal(user)
    assert fresh(user).status == SubscriptionStatus.PAST_DUE
    page = client.get(reverse("billing")).content.decode()
    assert f'href="{reverse("billing_card")}">Update card and pay</a>' in page

    card = {"number": "4242 4242 4242 4242", "expiry": "11/33", "cvc": "321"}
    declined = client.post(reverse("billing_card"), {**card, "number": "4000 0000 0000 0341"})
    assert declined.status_code == 400
    assert "declined again" in declined.content.decode()
    assert fresh(user).status == SubscriptionStatus.PAST_DUE

    assert client.post(reverse("billing_card"), card).status_code == 302
    assert fresh(user).status == SubscriptionStatus.ACTIVE
    assert stripe.Invoice.retrieve(renewal, api_key=stripe_api.key())["status"] == "paid"
    page = client.get(reverse("billing")).content.decode()
    assert "payment-banner" not in page
    assert "ending in <strong>4242</strong>, expires 11/2033" in page
    assert "Change card</a>" in page


def test_a_bad_card_number_changes_nothing(stripe_server: LocalStripe) -> None:
    user = make_user()
    client = Client()
    client.force_login(user)
    subscribe(client)
    response = client.post(
        reverse("billing_card"), {"number": "4242 4242 4242 4241", "expiry": "11/33", "cvc": "1"}
    )
    assert response.status_code == 400
    body = response.content.decode()
    assert "This card number is not valid" in body
    assert "Enter the 3 or 4 digits" in body
    method = stripe_api.payment_method_of(user)
    assert method is not None
    assert method.expiry == "12/2034"


def test_without_a_subscription_there_is_no_card_to_replace(stripe_server: LocalStripe) -> None:
    client = Client()
    client.force_login(make_user())
    assert "Change card" not in client.get(reverse("billing")).content.decode()
    response = client.post(
        reverse("billing_card"), {"number": "4242 4242 4242 4242", "expiry": "11/33", "cvc": "321"}
    )
    assert response.status_code == 400
    assert "There is no card to replace: subscribe first." in response.content.decode()
