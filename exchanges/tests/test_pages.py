"""The exchange account pages: tenant isolation, the verified-email gate, bad input, no secrets."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import AuditEvent
from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from accounts.verification import UNVERIFIED_MESSAGE
from bots import actions as bot_actions
from bots.models import Bot
from bots.tests.conftest import paper_account_for
from bots.tests.factories import grid_config
from exchanges.models import ExchangeAccount
from exchanges.paper import market
from exchanges.tests.factories import API_KEY, API_SECRET, make_bybit_account

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_client(world) -> Client:
    client = Client()
    client.force_login(world.owner)
    return client


def test_the_list_shows_only_the_traders_own_accounts(owner_client: Client, world) -> None:
    make_bybit_account(world.owner, label="Mine on Bybit")
    make_bybit_account(world.outsider, label="Someone else's")

    page = owner_client.get("/exchange-accounts/").content.decode()

    assert "Mine on Bybit" in page
    assert "Someone else" not in page
    assert f"••••{API_KEY[-4:]}" in page


def test_the_empty_list_invites_a_first_account(owner_client: Client) -> None:
    page = owner_client.get("/exchange-accounts/").content.decode()
    assert "No exchange accounts yet" in page
    assert 'href="/exchange-accounts/new/"' in page


@pytest.mark.parametrize(
    ("method", "suffix"),
    [("get", ""), ("post", "check/"), ("get", "delete/"), ("post", "delete/")],
)
def test_another_traders_account_is_not_found(world, method: str, suffix: str) -> None:
    account = make_bybit_account(world.owner)
    outsider = Client()
    outsider.force_login(world.outsider)

    response = getattr(outsider, method)(f"/exchange-accounts/{account.pk}/{suffix}")

    assert response.status_code == 404
    assert ExchangeAccount.objects.filter(pk=account.pk).exists()
    assert not AuditEvent.objects.filter(action__startswith="exchange_account").exists()


def test_pages_need_a_login(world) -> None:
    account = make_bybit_account(world.owner)
    for url in ("/exchange-accounts/", "/exchange-accounts/new/", f"/exchange-accounts/{account.pk}/"):
        response = Client().get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_an_unverified_trader_is_sent_to_verify_before_adding_keys(client: Client) -> None:
    client.force_login(make_user(email="fresh@example.com", verified=False))

    for response in (
        client.get("/exchange-accounts/new/", follow=True),
        client.post("/exchange-accounts/new/", {"label": "x", "venue": "paper:paper"}, follow=True),
    ):
        assert response.redirect_chain[-1][0] == "/accounts/email/"
        assert UNVERIFIED_MESSAGE in response.content.decode()
    assert not ExchangeAccount.objects.exists()


def test_the_secret_is_a_password_field_and_neither_is_echoed_back(owner_client: Client) -> None:
    response = owner_client.post(
        "/exchange-accounts/new/",
        {"label": "", "venue": "bybit:mainnet", "api_key": API_KEY, "api_secret": API_SECRET},
    )

    assert response.status_code == 400
    page = response.content.decode()
    assert 'type="password" name="api_secret"' in page
    assert API_SECRET not in page
    assert API_KEY not in page
    assert "This field is required." in page
    assert not ExchangeAccount.objects.exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"venue": "bybit:mainnet", "api_secret": API_SECRET}, "Enter the API key from your exchange."),
        ({"venue": "bybit:mainnet", "api_key": API_KEY}, "Enter the API secret that came with the key."),
        ({"venue": "bybit:custom", "api_key": API_KEY, "api_secret": API_SECRET}, "needs its base URL"),
        (
            {
                "venue": "bybit:custom",
                "base_url": "ftp://sim.local",
                "api_key": API_KEY,
                "api_secret": API_SECRET,
            },
            "Enter an http:// or https:// address.",
        ),
        ({"venue": "bybit:moon"}, "Select a valid choice."),
        ({"venue": "paper:mainnet"}, "Select a valid choice."),
    ],
)
def test_bad_input_gets_field_errors_and_saves_nothing(owner_client: Client, data, message: str) -> None:
    response = owner_client.post("/exchange-accounts/new/", {"label": "Test", **data})

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ExchangeAccount.objects.exists()


def test_a_label_is_unique_per_trader_whatever_its_case(owner_client: Client, world) -> None:
    make_bybit_account(world.owner, label="Main")
    make_bybit_account(world.outsider, label="Spare")

    response = owner_client.post("/exchange-accounts/new/", {"label": "MAIN", "venue": "paper:paper"})

    assert response.status_code == 400
    assert "You already have an exchange account called “MAIN”." in response.content.decode()
    assert ExchangeAccount.objects.filter(owner=world.owner).count() == 1


def test_the_detail_page_shows_the_masked_key_and_never_the_secret(owner_client: Client, world) -> None:
    account = make_bybit_account(world.owner)

    page = owner_client.get(f"/exchange-accounts/{account.pk}/").content.decode()

    assert f"••••{API_KEY[-4:]}" in page
    for secret in (API_KEY, API_SECRET, account.api_key_encrypted, account.api_secret_encrypted):
        assert secret not in page


def test_deleting_an_account_its_bots_use_is_refused_with_a_clear_message(
    owner_client: Client, world
) -> None:
    market.set_price("BTCUSDT", Decimal("54000"))
    account = paper_account_for(world.owner)
    for name in ("Grid A", "Grid B"):
        bot_actions.do_create_bot(world.owner, account, name, grid_config(), Decimal("54000"))
    url = f"/exchange-accounts/{account.pk}/delete/"
    message = "“Paper” has 2 bots; delete them or move them to another account first."

    confirm = owner_client.get(url)
    assert confirm.status_code == 200
    assert message in confirm.content.decode()
    assert "Grid A" in confirm.content.decode()
    assert "Remove account</button>" not in confirm.content.decode()

    refused = owner_client.post(url)

    assert refused.status_code == 409
    assert message in refused.content.decode()
    assert ExchangeAccount.objects.filter(pk=account.pk).exists()
    assert not AuditEvent.objects.filter(action="exchange_account_deleted").exists()
    # The API answers from the same rule.
    api = bearer(world.owner).delete(f"/api/v1/exchange-accounts/{account.pk}/")
    assert api.status_code == 409
    assert error_of(api) == {"code": "account_in_use", "message": message}

    Bot.objects.filter(exchange_account=account).delete()
    assert owner_client.post(url).status_code == 302
    assert not ExchangeAccount.objects.filter(pk=account.pk).exists()


def test_deleting_asks_first_then_removes_and_audits(owner_client: Client, world) -> None:
    account = make_bybit_account(world.owner)

    confirm = owner_client.get(f"/exchange-accounts/{account.pk}/delete/")
    assert confirm.status_code == 200
    assert ExchangeAccount.objects.filter(pk=account.pk).exists()

    response = owner_client.post(f"/exchange-accounts/{account.pk}/delete/")

    assert response.status_code == 302
    assert not ExchangeAccount.objects.filter(pk=account.pk).exists()
    event = AuditEvent.objects.get(action="exchange_account_deleted")
    assert event.actor == world.owner
    assert event.details == {
        "account_id": account.pk,
        "label": "Bybit main",
        "exchange": "bybit",
        "environment": "testnet",
        "key_last4": API_KEY[-4:],
        "outcome": "deleted",
    }


def test_the_dashboard_links_to_the_add_page_until_an_account_exists(owner_client: Client, world) -> None:
    assert 'href="/exchange-accounts/new/"' in owner_client.get("/").content.decode()

    make_bybit_account(world.owner)

    page = owner_client.get("/").content.decode()
    assert 'href="/exchange-accounts/new/"' not in page
    assert "Done: see your" in page
