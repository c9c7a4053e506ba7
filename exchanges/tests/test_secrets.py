"""The API key and secret never leave the encrypted columns: not in pages, admin, audit or snapshot."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client, RequestFactory

from accounts import twofactor
from accounts.models import AuditEvent
from accounts.tests.factories import make_user
from accounts.tests.helpers import sign_in, totp_code
from exchanges import actions
from exchanges.base import KeyPermissions
from exchanges.models import CheckOutcome, Environment, ExchangeAccount, ExchangeName
from exchanges.policy import NO_IP_WHITELIST_WARNING
from exchanges.tests.factories import API_KEY, API_SECRET, make_bybit_account

pytestmark = pytest.mark.django_db


def add_bybit_account(owner) -> ExchangeAccount:
    """The add action's save step, after a check that the venue answered with an open key."""
    account = ExchangeAccount(
        owner=owner, label="Bybit", exchange=ExchangeName.BYBIT, environment=Environment.DEMO
    )
    account.set_credentials(API_KEY, API_SECRET)
    permissions = KeyPermissions(
        can_read=True,
        can_trade_spot=True,
        can_withdraw=False,
        read_only=False,
        ip_whitelist=(),
        # Venues echo the key in their raw answer.
        raw={"apiKey": API_KEY, "note": "gridwise"},
    )
    check = actions.KeyCheck(CheckOutcome.OK, warnings=(NO_IP_WHITELIST_WARNING,), permissions=permissions)
    request = RequestFactory().post("/exchange-accounts/new/")
    request.user = owner
    return actions.do_add_account(request, account, check)


def all_text_in(table: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {table}")  # noqa: S608 - a fixed table name
        return " ".join(str(value) for row in cursor.fetchall() for value in row)


def test_adding_stores_no_plaintext_anywhere(world) -> None:
    account = add_bybit_account(world.owner)

    for table in ("exchanges_exchangeaccount", "accounts_auditevent"):
        text = all_text_in(table)
        assert API_KEY not in text
        assert API_SECRET not in text
    assert account.permissions == {
        "can_read": True,
        "can_trade_spot": True,
        "can_withdraw": False,
        "read_only": False,
        "ip_whitelist": [],
        "expires_at": None,
    }
    assert account.check_messages == [NO_IP_WHITELIST_WARNING]
    event = AuditEvent.objects.get(action="exchange_account_added")
    assert event.details["key_last4"] == API_KEY[-4:]


def test_no_page_shows_the_key_the_secret_or_their_ciphertext(world) -> None:
    account = add_bybit_account(world.owner)
    client = Client()
    client.force_login(world.owner)
    forbidden = (API_KEY, API_SECRET, account.api_key_encrypted, account.api_secret_encrypted)

    for url in (
        "/",
        "/exchange-accounts/",
        f"/exchange-accounts/{account.pk}/",
        f"/exchange-accounts/{account.pk}/delete/",
    ):
        page = client.get(url).content.decode()
        assert not [secret for secret in forbidden if secret in page], url


@pytest.fixture
def staff_client() -> Client:
    staff = make_user(email="staff@example.com", is_staff=True, is_superuser=True)
    device = twofactor.pending_totp_device(staff)
    twofactor.enable_two_factor(device)
    client = Client()
    sign_in(client, staff.email)
    client.post("/accounts/2fa/authenticate/", {"code": totp_code(device)})
    return client


def test_admin_shows_the_masked_key_and_nothing_more(staff_client: Client, world) -> None:
    account = make_bybit_account(world.owner)
    forbidden = (API_KEY, API_SECRET, account.api_key_encrypted, account.api_secret_encrypted)

    listing = staff_client.get("/admin/exchanges/exchangeaccount/")
    detail = staff_client.get(f"/admin/exchanges/exchangeaccount/{account.pk}/change/")

    assert listing.status_code == detail.status_code == 200
    for response in (listing, detail):
        page = response.content.decode()
        assert f"••••{API_KEY[-4:]}" in page
        assert not [secret for secret in forbidden if secret in page]
    assert b"api_key_encrypted" not in detail.content
    assert b'name="_save"' not in detail.content


def test_admin_cannot_add_or_change_accounts(staff_client: Client, world) -> None:
    account = make_bybit_account(world.owner)

    assert staff_client.get("/admin/exchanges/exchangeaccount/add/").status_code == 403
    changed = staff_client.post(
        f"/admin/exchanges/exchangeaccount/{account.pk}/change/",
        {"label": "renamed", "api_key_encrypted": "x"},
    )
    assert changed.status_code == 403
    account.refresh_from_db()
    assert account.label == "Bybit main"
