"""The leverage a futures grid may use: the server's cap, one staff set on the account, and the
trader's own, the lowest applying; the refusal names whose limit it is."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts import twofactor
from accounts.models import AuditEvent, User
from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in, totp_code
from bots.tests.conftest import paper_account_for
from exchanges.models import ExchangeAccount
from exchanges.paper import market
from risk.models import RiskRules

D = Decimal
PREVIEW = {
    "strategy": "futures_grid",
    "symbol": "BTCUSDT",
    "lower_price": "50000",
    "upper_price": "60000",
    "grid_count": 5,
    "investment": "1000",
    "mode": "long",
    "reference_price": "55000",
}
RULES: dict[str, Any] = {"daily_loss_limit": None, "max_total_investment": None, "max_bots_per_symbol": None}


@pytest.fixture
def account(trader: User) -> ExchangeAccount:
    market.set_price("BTCUSDT", D("55000"))
    return paper_account_for(trader)


def preview(trader: User, account: ExchangeAccount, leverage: str) -> Any:
    return bearer(trader, "read").post(
        "/api/v1/bots/preview/", {**PREVIEW, "account": account.pk, "leverage": leverage}, format="json"
    )


def test_the_traders_own_cap_limits_the_futures_preview(trader: User, account: ExchangeAccount) -> None:
    assert preview(trader, account, "8").status_code == 200
    saved = bearer(trader).put("/api/v1/risk-rules/", {**RULES, "max_leverage": 5}, format="json")
    assert saved.status_code == 200, saved.content
    assert saved.json()["max_leverage"] == 5
    assert RiskRules.objects.get(user=trader).max_leverage == 5

    refused = preview(trader, account, "8")
    assert refused.status_code == 400
    assert error_of(refused)["fields"]["leverage"] == [
        "Choose a leverage from 1x to 5x (your own limit in Risk rules)."
    ]
    assert preview(trader, account, "5").status_code == 200


def test_a_cap_above_what_the_account_allows_is_refused(trader: User, settings: Any) -> None:
    settings.FUTURES_MAX_LEVERAGE = 20
    refused = bearer(trader).put("/api/v1/risk-rules/", {**RULES, "max_leverage": 25}, format="json")
    assert refused.status_code == 400
    assert error_of(refused)["fields"]["max_leverage"] == [
        "Choose 20x or less: that is the most your account allows."
    ]
    assert not RiskRules.objects.filter(user=trader).exists()


@pytest.fixture
def staff_client(db: None) -> Client:
    staff = make_user(email="risk-ops@example.com", is_staff=True, is_superuser=True)
    device = twofactor.pending_totp_device(staff)
    twofactor.enable_two_factor(device)
    client = Client()
    sign_in(client, staff.email)
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(device)})
    return client


def test_staff_set_a_cap_the_trader_cannot_raise(
    trader: User, account: ExchangeAccount, staff_client: Client
) -> None:
    bearer(trader).put("/api/v1/risk-rules/", {**RULES, "max_leverage": 10}, format="json")
    rules = RiskRules.objects.get(user=trader)
    page = staff_client.get(f"/admin/risk/riskrules/{rules.pk}/change/").content.decode()
    assert 'name="staff_max_leverage"' in page
    assert 'name="max_leverage"' not in page  # the trader's own, shown read-only

    response = staff_client.post(f"/admin/risk/riskrules/{rules.pk}/change/", {"staff_max_leverage": "3"})
    assert response.status_code == 302, response.content.decode()[:2000]
    rules.refresh_from_db()
    assert (rules.staff_max_leverage, rules.max_leverage) == (3, 10)
    event = AuditEvent.objects.get(action="risk.staff_leverage_cap_set")
    assert event.actor_email == "risk-ops@example.com"

    refused = preview(trader, account, "4")
    assert error_of(refused)["fields"]["leverage"] == [
        "Choose a leverage from 1x to 3x (the limit Gridwise support set on your account)."
    ]
    raised = bearer(trader).put("/api/v1/risk-rules/", {**RULES, "max_leverage": 10}, format="json")
    assert error_of(raised)["fields"]["max_leverage"] == [
        "Choose 3x or less: that is the most your account allows."
    ]

    client = Client()
    client.force_login(trader)
    html = client.get("/account/risk/").content.decode()
    assert "Gridwise support limits this account to 3x leverage." in html
    form = client.post("/account/risk/", {"daily_loss_action": "stop_all", "max_leverage": "9"})
    assert form.status_code == 400
    assert "Choose 3x or less" in form.content.decode()
