"""A paper account end to end through the pages: added, checked, removed, audited."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import AuditEvent
from config.demo import DEMO_EMAIL, seed_demo
from exchanges.models import CheckOutcome, ExchangeAccount, PaperAccount, PaperBalance
from exchanges.paper.instruments import DEFAULT_BALANCES

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(world) -> Client:
    client = Client()
    client.force_login(world.owner)
    return client


def add_paper_account(client: Client, label: str = "Practice"):
    return client.post("/exchange-accounts/new/", {"label": label, "venue": "paper:paper"})


def test_adding_a_paper_account_opens_it_with_the_default_balances(owner_client: Client, world) -> None:
    response = add_paper_account(owner_client)

    account = ExchangeAccount.objects.get(owner=world.owner)
    assert response.status_code == 302
    assert response["Location"] == f"/exchange-accounts/{account.pk}/"
    assert (account.label, account.exchange, account.environment) == ("Practice", "paper", "paper")
    assert account.paper_account is not None
    balances = dict(PaperBalance.objects.filter(account=account.paper_account).values_list("asset", "free"))
    assert balances == {asset: Decimal(amount) for asset, amount in DEFAULT_BALANCES.items()}
    assert account.check_outcome == CheckOutcome.OK
    assert account.check_messages == []  # no IP warning: a paper account has no key to leak
    assert account.permissions["can_trade_spot"] is True
    assert account.permissions["can_withdraw"] is False
    assert account.last_checked_at is not None
    assert (account.api_key_encrypted, account.api_secret_encrypted, account.key_last4) == ("", "", "")


def test_adding_is_audited_without_secrets(owner_client: Client, world) -> None:
    add_paper_account(owner_client)

    account = ExchangeAccount.objects.get()
    event = AuditEvent.objects.get(action="exchange_account_added")
    assert event.actor == world.owner
    assert event.details == {
        "account_id": account.pk,
        "label": "Practice",
        "exchange": "paper",
        "environment": "paper",
        "key_last4": "",
        "outcome": "ok",
    }


def test_the_new_account_appears_in_the_list_and_completes_the_dashboard(owner_client: Client) -> None:
    add_paper_account(owner_client)

    assert "Practice" in owner_client.get("/exchange-accounts/").content.decode()
    assert "Done: see your" in owner_client.get("/").content.decode()


def test_keys_typed_for_a_paper_account_are_ignored(owner_client: Client) -> None:
    owner_client.post(
        "/exchange-accounts/new/",
        {"label": "Practice", "venue": "paper:paper", "api_key": "typed-by-mistake", "api_secret": "oops"},
    )

    account = ExchangeAccount.objects.get()
    assert (account.api_key_encrypted, account.key_last4) == ("", "")


def test_rechecking_updates_the_time_and_is_audited(owner_client: Client) -> None:
    add_paper_account(owner_client)
    account = ExchangeAccount.objects.get()
    first_check = account.last_checked_at

    response = owner_client.post(f"/exchange-accounts/{account.pk}/check/")

    assert response.status_code == 302
    account.refresh_from_db()
    assert account.last_checked_at is not None
    assert first_check is not None
    assert account.last_checked_at > first_check
    assert account.check_outcome == CheckOutcome.OK
    event = AuditEvent.objects.get(action="exchange_account_checked")
    assert event.details["outcome"] == "ok"
    assert event.details["account_id"] == account.pk


def test_rechecking_needs_a_post(owner_client: Client) -> None:
    add_paper_account(owner_client)
    account = ExchangeAccount.objects.get()

    assert owner_client.get(f"/exchange-accounts/{account.pk}/check/").status_code == 405
    assert not AuditEvent.objects.filter(action="exchange_account_checked").exists()


def test_removing_a_paper_account_removes_its_virtual_funds(owner_client: Client) -> None:
    add_paper_account(owner_client)
    account = ExchangeAccount.objects.get()

    owner_client.post(f"/exchange-accounts/{account.pk}/delete/")

    assert not ExchangeAccount.objects.exists()
    assert not PaperAccount.objects.exists()
    assert not PaperBalance.objects.exists()
    assert AuditEvent.objects.get(action="exchange_account_deleted").details["exchange"] == "paper"


def test_two_traders_may_use_the_same_label(owner_client: Client, world) -> None:
    outsider = Client()
    outsider.force_login(world.outsider)
    add_paper_account(outsider)

    response = add_paper_account(owner_client)

    assert response.status_code == 302
    assert ExchangeAccount.objects.filter(label="Practice").count() == 2


def test_the_demo_user_gets_one_paper_account_however_often_it_is_seeded() -> None:
    seed_demo()
    seed_demo()

    account = ExchangeAccount.objects.get(owner__email=DEMO_EMAIL)
    assert account.exchange == "paper"
    assert account.paper_account is not None
    assert PaperAccount.objects.count() == 1
