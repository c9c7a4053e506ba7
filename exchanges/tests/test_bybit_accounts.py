"""Adding and re-checking Bybit accounts against the Bybit simulator, through the pages."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import AuditEvent
from accounts.tests.factories import make_user
from exchanges.models import CheckOutcome, ExchangeAccount
from exchanges.policy import NO_IP_WHITELIST_WARNING, READ_ONLY_REFUSED, WITHDRAW_REFUSED
from exchanges.simulator.server import BybitSimulator

KEY, SECRET = "bybit-trader-key-7Q2Z", "bybit-trader-secret-5Fh8kLm2"
SERVER_IP = "127.0.0.1"  # the simulator enforces the whitelist against our address


@pytest.fixture
def trader_client(simulator: BybitSimulator) -> Client:
    client = Client()
    client.force_login(make_user(email="bybit.trader@example.com"))
    return client


def add(client: Client, simulator: BybitSimulator, secret: str = SECRET):
    return client.post(
        "/exchange-accounts/new/",
        {
            "label": "Bybit sim",
            "venue": "bybit:custom",
            "base_url": simulator.url,
            "api_key": KEY,
            "api_secret": secret,
        },
    )


def test_a_sound_key_is_checked_encrypted_and_saved(trader_client: Client, simulator: BybitSimulator) -> None:
    simulator.add_key(KEY, SECRET, ips=(SERVER_IP,))

    response = add(trader_client, simulator)

    assert response.status_code == 302
    account = ExchangeAccount.objects.get()
    assert (account.exchange, account.environment, account.base_url) == ("bybit", "custom", simulator.url)
    assert account.key_last4 == KEY[-4:]
    assert KEY not in account.api_key_encrypted
    assert account.check_outcome == CheckOutcome.OK
    assert account.check_messages == []
    assert account.permissions["ip_whitelist"] == [SERVER_IP]
    event = AuditEvent.objects.get(action="exchange_account_added")
    assert event.details["key_last4"] == KEY[-4:]
    assert SECRET not in str(event.details)


def test_a_key_for_any_ip_is_saved_with_a_warning(trader_client: Client, simulator: BybitSimulator) -> None:
    simulator.add_key(KEY, SECRET, ips=("*",))

    response = add(trader_client, simulator)

    assert response.status_code == 302
    assert ExchangeAccount.objects.get().check_messages == [NO_IP_WHITELIST_WARNING]
    assert "This key works from any IP address." in trader_client.get(response["Location"]).content.decode()


@pytest.mark.parametrize(
    ("permissions", "message"),
    [({"can_withdraw": True}, WITHDRAW_REFUSED), ({"read_only": True}, READ_ONLY_REFUSED)],
)
def test_a_dangerous_or_useless_key_is_refused(
    trader_client: Client, simulator: BybitSimulator, permissions, message: str
) -> None:
    simulator.add_key(KEY, SECRET, ips=(SERVER_IP,), **permissions)

    response = add(trader_client, simulator)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ExchangeAccount.objects.exists()
    assert not AuditEvent.objects.filter(action="exchange_account_added").exists()


def test_a_wrong_secret_is_a_clear_field_error(trader_client: Client, simulator: BybitSimulator) -> None:
    simulator.add_key(KEY, SECRET)

    response = add(trader_client, simulator, secret="not-the-secret")

    assert response.status_code == 400
    page = response.content.decode()
    assert "did not accept this API key and secret" in page
    assert "not-the-secret" not in page
    assert not ExchangeAccount.objects.exists()


@pytest.mark.parametrize(
    ("fault", "message"),
    [
        ({"server_error_requests": 20}, "Bybit did not answer properly (HTTP 503). Nothing was saved"),
        ({"rate_limit_requests": 20, "rate_limit_reset_ms": 100}, "is limiting requests right now"),
    ],
)
def test_an_unavailable_exchange_saves_nothing(
    trader_client: Client, simulator: BybitSimulator, fault, message: str
) -> None:
    simulator.add_key(KEY, SECRET)
    simulator.faults.configure(**fault)

    response = add(trader_client, simulator)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert not ExchangeAccount.objects.exists()


def test_a_revoked_key_fails_its_recheck_and_keeps_the_last_snapshot(
    trader_client: Client, simulator: BybitSimulator
) -> None:
    simulator.add_key(KEY, SECRET, ips=(SERVER_IP,))
    add(trader_client, simulator)
    account = ExchangeAccount.objects.get()
    simulator.faults.configure(rejected_keys={KEY})

    trader_client.post(f"/exchange-accounts/{account.pk}/check/")

    account.refresh_from_db()
    assert account.check_outcome == CheckOutcome.REFUSED
    assert "did not accept this API key" in account.check_messages[0]
    assert account.permissions["ip_whitelist"] == [SERVER_IP]
    event = AuditEvent.objects.get(action="exchange_account_checked")
    assert event.details["outcome"] == "refused"


def test_custom_addresses_are_refused_when_turned_off(
    trader_client: Client,
    simulator: BybitSimulator,
    settings,
) -> None:
    simulator.add_key(KEY, SECRET, ips=(SERVER_IP,))
    assert add(trader_client, simulator).status_code == 302
    account = ExchangeAccount.objects.get()
    settings.ALLOW_CUSTOM_EXCHANGE_URLS = False

    page = trader_client.get("/exchange-accounts/new/").content.decode()
    assert "bybit:custom" not in page
    assert "bybit:mainnet" in page
    refused = trader_client.post(
        "/exchange-accounts/new/",
        {
            "label": "Internal",
            "venue": "bybit:custom",
            "base_url": "http://10.0.0.1/",
            "api_key": KEY,
            "api_secret": SECRET,
        },
    )
    assert refused.status_code == 400
    assert ExchangeAccount.objects.count() == 1
    # An account stored before the switch no longer reaches its address.
    trader_client.post(f"/exchange-accounts/{account.pk}/check/")
    account.refresh_from_db()
    assert account.check_outcome == CheckOutcome.REFUSED
    assert account.check_messages == ["Custom exchange addresses are turned off on this server."]


def test_key_checks_are_rate_limited_per_user(
    trader_client: Client, simulator: BybitSimulator, settings
) -> None:
    simulator.add_key(KEY, SECRET, ips=(SERVER_IP,))
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "exchange_key_check": "2/h/user"}
    assert add(trader_client, simulator, secret="wrong-1").status_code == 400
    assert add(trader_client, simulator, secret="wrong-2").status_code == 400

    third = add(trader_client, simulator)

    assert third.status_code == 429
    assert "Too many key checks" in third.content.decode()
    assert not ExchangeAccount.objects.exists()


def test_an_exchange_that_refuses_the_connection_is_named_as_such(
    trader_client: Client, simulator: BybitSimulator
) -> None:
    simulator.stop()  # nothing listens on its port any more

    response = add(trader_client, simulator)

    assert response.status_code == 400
    page = response.content.decode()
    assert "Could not connect to Bybit (connection refused). Nothing was saved" in page
    assert "did not answer in time" not in page
    assert not ExchangeAccount.objects.exists()
