"""An account's available balances: read quickly, and "unknown" with a reason when the venue stalls."""

from __future__ import annotations

import re
import time
from decimal import Decimal

from django.test import Client

from accounts.tests.factories import make_user
from exchanges.balances import available_balances
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper.service import open_paper_account
from exchanges.simulator.server import BybitSimulator
from exchanges.tests.conftest import KEY, SECRET

D = Decimal


def simulator_account(simulator: BybitSimulator, key: str = KEY, secret: str = SECRET) -> ExchangeAccount:
    account = ExchangeAccount(
        owner=make_user(email="balances@example.com"),
        label="Simulator",
        exchange=ExchangeName.BYBIT,
        environment=Environment.CUSTOM,
        base_url=simulator.url,
    )
    account.set_credentials(key, secret)
    account.save()
    return account


def page_text(client: Client, account: ExchangeAccount) -> str:
    client.force_login(account.owner)
    html = client.get(f"/exchange-accounts/{account.pk}/").content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_a_paper_account_shows_what_it_holds_free(db: None, client: Client) -> None:
    account = ExchangeAccount.objects.create(
        owner=make_user(email="paper@example.com"),
        label="Paper",
        exchange=ExchangeName.PAPER,
        environment=Environment.PAPER,
        paper_account=open_paper_account("paper", {"USDT": D("2500"), "BTC": D("0.25")}),
    )
    balances = available_balances(account)
    assert balances.known
    assert balances.free == {"USDT": D("2500"), "BTC": D("0.25")}
    page = page_text(client, account)
    assert "BTC 0.25" in page
    assert "USDT 2,500" in page


def test_a_bybit_account_reads_its_wallet_through_pybit(simulator: BybitSimulator, settings) -> None:
    settings.ALLOW_CUSTOM_EXCHANGE_URLS = True
    balances = available_balances(simulator_account(simulator))
    assert balances.known
    assert balances.available("USDT") == D("10000")
    assert balances.available("BTC") == D("1")
    assert balances.available("ETH") == D(0)


def test_a_slow_venue_answers_unknown_within_the_timeout(simulator: BybitSimulator, settings, client) -> None:
    settings.ALLOW_CUSTOM_EXCHANGE_URLS = True
    account = simulator_account(simulator)
    simulator.faults.configure(latency=8)
    began = time.monotonic()
    balances = available_balances(account)
    assert time.monotonic() - began < 5, "one try of three seconds, no retries"
    assert not balances.known
    assert balances.reason == "Bybit did not answer within 3 seconds."
    began = time.monotonic()
    page = page_text(client, account)
    assert time.monotonic() - began < 5
    assert "Balances unknown: Bybit did not answer within 3 seconds." in page


def test_a_refused_key_says_so(simulator: BybitSimulator, settings) -> None:
    settings.ALLOW_CUSTOM_EXCHANGE_URLS = True
    simulator.faults.configure(rejected_keys=[KEY])
    balances = available_balances(simulator_account(simulator))
    assert not balances.known
    assert balances.reason.startswith("Bybit refused to show the balances:")


def test_the_list_loads_each_accounts_balances_after_the_page(db: None, client: Client) -> None:
    owner = make_user(email="rows@example.com")
    account = ExchangeAccount.objects.create(
        owner=owner,
        label="Paper",
        exchange=ExchangeName.PAPER,
        environment=Environment.PAPER,
        paper_account=open_paper_account("rows", {"USDT": D("1234.5")}),
    )
    client.force_login(owner)
    listing = client.get("/exchange-accounts/").content.decode()
    url = f"/exchange-accounts/{account.pk}/balances/"
    assert f'href="/exchange-accounts/{account.pk}/#balances-title" hx-get="{url}"' in listing
    row = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "1,234.5 USDT" in row
    without_htmx = client.get(url)
    assert without_htmx["Location"] == f"/exchange-accounts/{account.pk}/", "the account's page shows them"
    stranger = Client()
    stranger.force_login(make_user(email="stranger@example.com"))
    assert stranger.get(url, headers={"HX-Request": "true"}).status_code == 404
