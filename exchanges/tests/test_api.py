"""Exchange accounts through the API: paper and Bybit (against the simulator), write-only secrets,
re-check, delete, instruments and tickers, scopes and tenant isolation."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import AuditEvent
from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots import actions
from bots.tests.factories import grid_config
from exchanges.models import CheckOutcome, ExchangeAccount
from exchanges.paper import market
from exchanges.paper.models import PaperBalance
from exchanges.policy import WITHDRAW_REFUSED
from exchanges.simulator.server import BybitSimulator

KEY, SECRET = "bybit-api-key-9X3K", "bybit-api-secret-4Rt7uVw1"


def test_a_paper_account_needs_only_a_label(world) -> None:
    client = bearer(world.owner)
    response = client.post(
        "/api/v1/exchange-accounts/", {"exchange": "paper", "label": "Paper one"}, format="json"
    )
    assert response.status_code == 201, response.content
    account = ExchangeAccount.objects.get(owner=world.owner)
    assert account.paper_account is not None
    balances = {b.asset: b.free for b in PaperBalance.objects.filter(account=account.paper_account)}
    assert balances["USDT"] == Decimal("10000")
    assert response.json()["id"] == account.pk
    assert response.json()["environment"] == "paper"
    assert AuditEvent.objects.filter(action="exchange_account_added").count() == 1
    # The same label again conflicts with the account that has it: a 409 naming the field.
    again = client.post(
        "/api/v1/exchange-accounts/", {"exchange": "paper", "label": "paper ONE"}, format="json"
    )
    assert again.status_code == 409
    assert error_of(again)["code"] == "label_taken"
    assert "label" in error_of(again)["fields"]


def test_an_unverified_trader_cannot_add_accounts(db) -> None:
    client = bearer(make_user(email="new@example.com", verified=False))
    response = client.post("/api/v1/exchange-accounts/", {"exchange": "paper", "label": "P"}, format="json")
    assert response.status_code == 403
    assert error_of(response)["code"] == "email_not_verified"
    assert not ExchangeAccount.objects.exists()


def _bybit(simulator: BybitSimulator, secret: str = SECRET) -> dict[str, str]:
    return {
        "exchange": "bybit",
        "label": "Bybit sim",
        "environment": "custom",
        "base_url": simulator.url,
        "api_key": KEY,
        "api_secret": secret,
    }


def test_a_bybit_key_is_checked_and_its_secret_never_returned(simulator: BybitSimulator) -> None:
    owner = make_user(email="bybit.api@example.com")
    simulator.add_key(KEY, SECRET, ips=("127.0.0.1",))
    client = bearer(owner)
    response = client.post("/api/v1/exchange-accounts/", _bybit(simulator), format="json")
    assert response.status_code == 201, response.content
    assert SECRET not in response.content.decode()
    assert KEY not in response.content.decode()
    account = ExchangeAccount.objects.get()
    assert account.key_last4 == KEY[-4:]
    assert response.json()["key_last4"] == KEY[-4:]
    listing = client.get("/api/v1/exchange-accounts/").content.decode()
    assert SECRET not in listing
    assert KEY not in listing
    recheck = client.post(f"/api/v1/exchange-accounts/{account.pk}/check/")
    assert recheck.status_code == 200
    assert recheck.json()["check_outcome"] == CheckOutcome.OK


def test_a_bybit_key_that_can_withdraw_is_refused(simulator: BybitSimulator) -> None:
    owner = make_user(email="bybit.api@example.com")
    simulator.add_key(KEY, SECRET, ips=("127.0.0.1",), can_withdraw=True)
    response = bearer(owner).post("/api/v1/exchange-accounts/", _bybit(simulator), format="json")
    assert response.status_code == 400
    assert WITHDRAW_REFUSED in str(error_of(response)["fields"])
    assert not ExchangeAccount.objects.exists()


def test_a_bybit_account_needs_its_keys(world) -> None:
    response = bearer(world.owner).post(
        "/api/v1/exchange-accounts/",
        {"exchange": "bybit", "label": "B", "environment": "testnet"},
        format="json",
    )
    assert response.status_code == 400
    fields = error_of(response)["fields"]
    assert "api_key" in fields
    assert "api_secret" in fields


def test_instruments_tickers_and_delete(world) -> None:
    market.set_price("BTCUSDT", Decimal("54000"))
    client = bearer(world.owner)
    account_id = client.post(
        "/api/v1/exchange-accounts/", {"exchange": "paper", "label": "P"}, format="json"
    ).json()["id"]
    instruments = client.get(f"/api/v1/exchange-accounts/{account_id}/instruments/").json()
    assert {"BTCUSDT", "ETHUSDT"} <= {i["symbol"] for i in instruments}
    btc = next(i for i in instruments if i["symbol"] == "BTCUSDT")
    assert (btc["max_quantity"], btc["max_market_quantity"], btc["max_amount"]) == ("83", "41.5", "8000000")
    tickers = client.get(f"/api/v1/exchange-accounts/{account_id}/tickers/?symbols=BTCUSDT").json()
    assert tickers[0]["last"] == "54000"
    unknown = client.get(f"/api/v1/exchange-accounts/{account_id}/tickers/?symbols=NOPE")
    assert unknown.status_code == 404, "a market the venue lacks is not there"
    assert "symbols" in error_of(unknown)["fields"]
    assert client.get(f"/api/v1/exchange-accounts/{account_id}/tickers/").status_code == 400

    # An account with bots is not deleted from under them.
    account = ExchangeAccount.objects.get(pk=account_id)
    bot = actions.do_create_bot(world.owner, account, "B", grid_config(), Decimal("54000"))
    response = client.delete(f"/api/v1/exchange-accounts/{account_id}/")
    assert response.status_code == 409
    assert error_of(response)["code"] == "account_in_use"
    bot.delete()
    assert client.delete(f"/api/v1/exchange-accounts/{account_id}/").status_code == 204
    assert not ExchangeAccount.objects.exists()
    assert AuditEvent.objects.filter(action="exchange_account_deleted").count() == 1


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("get", ""),
        ("delete", ""),
        ("post", "check/"),
        ("get", "instruments/"),
        ("get", "tickers/?symbols=BTCUSDT"),
    ],
)
def test_another_traders_account_is_404(world, method, suffix) -> None:
    market.set_price("BTCUSDT", Decimal("54000"))
    theirs = (
        bearer(world.outsider)
        .post("/api/v1/exchange-accounts/", {"exchange": "paper", "label": "Theirs"}, format="json")
        .json()["id"]
    )
    response = getattr(bearer(world.owner), method)(f"/api/v1/exchange-accounts/{theirs}/{suffix}")
    assert response.status_code == 404
    assert error_of(response)["code"] == "not_found"
    assert ExchangeAccount.objects.filter(pk=theirs).exists()


def test_a_read_token_cannot_add_or_delete(world) -> None:
    client = bearer(world.owner, "read")
    response = client.post("/api/v1/exchange-accounts/", {"exchange": "paper", "label": "P"}, format="json")
    assert response.status_code == 403
    assert not ExchangeAccount.objects.exists()
