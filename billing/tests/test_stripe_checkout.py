"""Stripe Checkout and the customer portal, the production path. localstripe has neither Checkout
Sessions nor portal sessions, so those two endpoints are answered with the objects recorded from
Stripe's API reference (recordings/); every other call still goes to the real localstripe."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import pytest
import requests
import stripe
from django.test import Client
from django.urls import reverse

from accounts.tests.factories import make_user
from billing import entitlements, stripe_api
from billing.models import Subscription, SubscriptionStatus
from billing.plans import PlanCode
from billing.stripe_server import LocalStripe, use_api_base
from billing.tests.conftest import post_event

pytestmark = [pytest.mark.django_db, pytest.mark.slow]

RECORDINGS = Path(__file__).parent / "recordings"
RECORDED = json.loads((RECORDINGS / "checkout_session.json").read_text())
RECORDED_PORTAL = json.loads((RECORDINGS / "billing_portal_session.json").read_text())


class _Seam(BaseHTTPRequestHandler):
    """POST /v1/checkout/sessions and /v1/billing_portal/sessions answer the recordings; the rest
    is passed to localstripe."""

    upstream = ""
    sessions: list[dict[str, list[str]]] = []
    portals: list[dict[str, list[str]]] = []

    def _forward(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        if method == "POST" and self.path == "/v1/checkout/sessions":
            self.sessions.append(parse_qs(body.decode()))
            self._reply(200, json.dumps(RECORDED).encode())
            return
        if method == "POST" and self.path == "/v1/billing_portal/sessions":
            self.portals.append(parse_qs(body.decode()))
            self._reply(200, json.dumps(RECORDED_PORTAL).encode())
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
        answer = requests.request(method, self.upstream + self.path, data=body, headers=headers, timeout=10)
        self._reply(answer.status_code, answer.content)

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self._forward("GET")

    def do_POST(self) -> None:
        self._forward("POST")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def checkout_seam(stripe_server: LocalStripe, settings) -> Iterator[type[_Seam]]:
    settings.BILLING_CHECKOUT = "checkout"
    _Seam.upstream, _Seam.sessions, _Seam.portals = stripe_server.url, [], []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Seam)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    use_api_base(f"http://127.0.0.1:{server.server_address[1]}")
    yield _Seam
    server.shutdown()
    use_api_base(stripe_server.url)


def test_subscribe_redirects_to_stripe_checkout(checkout_seam: type[_Seam]) -> None:
    user = make_user()
    client = Client()
    client.force_login(user)
    page = client.get(reverse("billing_subscribe", args=["pro"]), {"period": "yearly"})
    assert "Continue to payment" in page.content.decode()
    response = client.post(reverse("billing_subscribe", args=["pro"]), {"period": "yearly"})
    assert response.status_code == 302
    assert response["Location"] == RECORDED["url"]
    (sent,) = checkout_seam.sessions
    assert sent["mode"] == ["subscription"]
    assert sent["line_items[0][price]"] == ["gridwise_pro_yearly_99000"]
    assert sent["customer"] == [stripe_api.customer_id_of(user)]
    assert sent["client_reference_id"] == [str(user.pk)]
    assert sent["success_url"][0].endswith("/account/billing/?checkout=done")
    assert entitlements.subscription_for(user).status == SubscriptionStatus.TRIALING  # not paid yet


def _paid_subscription(customer: str, code: PlanCode) -> Any:
    method = stripe.PaymentMethod.create(
        type="card",
        card={"number": "4242424242424242", "exp_month": 12, "exp_year": 2034, "cvc": "123"},
        api_key=stripe_api.key(),
    )
    stripe.PaymentMethod.attach(method.id, customer=customer, api_key=stripe_api.key())
    stripe.Customer.modify(
        customer, invoice_settings={"default_payment_method": method.id}, api_key=stripe_api.key()
    )
    price = stripe_api.current_price(code, "monthly")
    return stripe.Subscription.create(customer=customer, items=[{"plan": price}], api_key=stripe_api.key())


def _completed(session: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": "evt_checkout_" + session["subscription"],
        "object": "event",
        "type": "checkout.session.completed",
        "livemode": False,
        "api_version": "2017-08-15",
        "created": 1_796_000_000,
        "data": {"object": session},
    }


def test_checkout_completed_activates_the_plan(stripe_server: LocalStripe) -> None:
    user = make_user()
    customer = stripe_api.ensure_customer(user)
    subscription = _paid_subscription(customer, PlanCode.STARTER)
    session = {
        **RECORDED,
        "status": "complete",
        "payment_status": "paid",
        "customer": customer,
        "subscription": subscription.id,
        "client_reference_id": str(user.pk),
    }
    assert post_event(Client(), _completed(session)).status_code == 200
    ours = Subscription.objects.get(user=user)
    assert (ours.plan, ours.status, ours.stripe_subscription_id) == ("starter", "active", subscription.id)


def test_checkout_links_a_customer_it_created_to_the_user(stripe_server: LocalStripe) -> None:
    user = make_user()
    customer = stripe.Customer.create(email=user.email, api_key=stripe_api.key()).id  # made by Checkout
    subscription = _paid_subscription(customer, PlanCode.PRO)
    session = {
        **RECORDED,
        "status": "complete",
        "customer": customer,
        "subscription": subscription.id,
        "client_reference_id": str(user.pk),
    }
    assert post_event(Client(), _completed(session)).status_code == 200
    assert stripe_api.customer_id_of(user) == customer
    assert Subscription.objects.get(user=user).plan == "pro"


def test_change_card_goes_to_stripes_customer_portal(checkout_seam: type[_Seam]) -> None:
    user = make_user()
    customer = stripe_api.ensure_customer(user)
    client = Client()
    client.force_login(user)
    assert "Continue to Stripe" in client.get(reverse("billing_card")).content.decode()
    response = client.post(reverse("billing_card"))
    assert response.status_code == 302
    assert response["Location"] == RECORDED_PORTAL["url"]
    (sent,) = checkout_seam.portals
    assert sent["customer"] == [customer]
    assert sent["return_url"] == ["http://testserver/account/billing/"]
