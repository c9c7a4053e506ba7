"""Price alerts: set on the page or through the API, checked against the paper market by the beat
task, fired once (through the channels chosen) and re-armed."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from accounts.tests.api import bearer, error_of
from bots.tests.conftest import paper_account_for
from exchanges.models import ExchangeAccount
from exchanges.paper import market
from notifications import alerts, record
from notifications.events import Channel, Kind
from notifications.models import AlertDirection, Notification, PriceAlert
from notifications.tasks import check_price_alerts

D = Decimal
Capture = Callable[..., Any]


@pytest.fixture(autouse=True)
def _no_celery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record, "enqueue", lambda delivery_ids: None)


@pytest.fixture
def account(world: Any) -> ExchangeAccount:
    market.set_price("BTCUSDT", D("54000"))
    return paper_account_for(world.owner)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def alert_for(
    account: ExchangeAccount, direction: str = "above", price: str = "60000", **extra: Any
) -> PriceAlert:
    return PriceAlert.objects.create(
        user=account.owner,
        exchange_account=account,
        symbol="BTCUSDT",
        direction=direction,
        price=D(price),
        **extra,
    )


def form(account: ExchangeAccount, **values: str) -> dict[str, Any]:
    return {
        "exchange_account": str(account.pk),
        "symbol": "BTCUSDT",
        "direction": "above",
        "price": "60000",
    } | values


def alert_notifications(user: User) -> list[Notification]:
    return list(Notification.objects.filter(user=user, kind=Kind.PRICE_ALERT))


# Firing ---------------------------------------------------------------------------------


def test_an_alert_fires_once_when_the_price_crosses_then_again_after_rearming(
    account: ExchangeAccount, django_capture_on_commit_callbacks: Capture
) -> None:
    above = alert_for(account, "above", "60000", note="take profit")
    below = alert_for(account, "below", "50000")
    with django_capture_on_commit_callbacks(execute=True):
        assert check_price_alerts() == 0  # 54,000: neither met
        market.set_price("BTCUSDT", D("60000.5"))
        assert check_price_alerts() == 1
        assert check_price_alerts() == 0  # fired once, not at every check while above

    above.refresh_from_db()
    below.refresh_from_db()
    assert above.fired_at is not None
    assert above.fired_price == D("60000.5")
    assert below.fired_at is None
    (sent,) = alert_notifications(account.owner)
    assert sent.title == "Price alert: BTCUSDT above 60,000"
    assert "BTCUSDT is at 60,000.5 on Paper" in sent.body
    assert "take profit" in sent.body
    assert (D(sent.payload["price"]), D(sent.payload["price_now"])) == (D("60000"), D("60000.5"))

    with django_capture_on_commit_callbacks(execute=True):
        alerts.do_rearm_alert(above)
        assert check_price_alerts() == 1  # still above: fires again, as a new notification
    assert len(alert_notifications(account.owner)) == 2


def test_a_claimed_alert_cannot_fire_twice(account: ExchangeAccount) -> None:
    alert = alert_for(account)
    assert alerts.fire(alert.pk, D("61000")) is True
    assert alerts.fire(alert.pk, D("62000")) is False
    alert.refresh_from_db()
    assert alert.fired_price == D("61000")


def test_channels_chosen_on_the_alert_replace_the_settings(
    account: ExchangeAccount, django_capture_on_commit_callbacks: Capture
) -> None:
    alert_for(account, channels=[Channel.EMAIL])
    market.set_price("BTCUSDT", D("65000"))
    with django_capture_on_commit_callbacks(execute=True):
        check_price_alerts()
    (sent,) = alert_notifications(account.owner)
    assert [d.channel for d in sent.deliveries.all()] == [Channel.EMAIL]


# The page ---------------------------------------------------------------------------------


def test_the_page_creates_lists_and_deletes_alerts(world: Any, account: ExchangeAccount) -> None:
    client = client_for(world.owner)
    response = client.post("/account/alerts/", form(account, note="resistance"))
    assert response.status_code == 302
    alert = PriceAlert.objects.get(user=world.owner)
    assert (alert.symbol, alert.direction, alert.price, alert.channels) == (
        "BTCUSDT",
        "above",
        D("60000"),
        [],
    )

    html = client.get("/account/alerts/").content.decode()
    assert "BTCUSDT</strong> at or above 60,000" in html
    assert "resistance" in html
    assert "Armed" in html
    assert 'href="/account/alerts/"' in client.get("/").content.decode()  # linked from the account menu

    assert client.post(f"/account/alerts/{alert.pk}/delete/").status_code == 302
    assert not PriceAlert.objects.exists()


@pytest.mark.parametrize(
    ("values", "field", "words"),
    [
        ({"symbol": "DOGEXYZ"}, "symbol", "DOGEXYZ is not traded on Paper."),
        ({"price": "0"}, "price", "Enter a price above zero."),
        ({"price": "-5"}, "price", "Enter a price above zero."),
        ({"price": "lots"}, "price", "Enter a price, e.g. 70000 or 0.5."),
        ({"price": "50000"}, "price", "would fire at once"),
        ({"direction": "below", "price": "55000"}, "price", "already below 55,000"),
    ],
)
def test_the_page_refuses_bad_alerts_inline(
    world: Any, account: ExchangeAccount, values: dict[str, str], field: str, words: str
) -> None:
    response = client_for(world.owner).post("/account/alerts/", form(account, **values))
    assert response.status_code == 400
    assert words in " ".join(response.context["form"].errors[field])
    assert words in response.content.decode()  # shown beside the field
    assert not PriceAlert.objects.exists()


def test_an_alert_already_met_fires_at_once_when_confirmed(
    world: Any, account: ExchangeAccount, django_capture_on_commit_callbacks: Capture
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        response = client_for(world.owner).post(
            "/account/alerts/", form(account, price="50000", fire_now="on")
        )
    assert response.status_code == 302
    alert = PriceAlert.objects.get()
    assert alert.fired_at is not None
    assert alert.fired_price == D("54000")
    assert len(alert_notifications(world.owner)) == 1


def test_another_traders_alert_and_account_are_out_of_reach(world: Any, account: ExchangeAccount) -> None:
    alert = alert_for(account)
    stranger = client_for(world.outsider)
    assert stranger.post(f"/account/alerts/{alert.pk}/delete/").status_code == 404
    assert stranger.post(f"/account/alerts/{alert.pk}/rearm/").status_code == 404
    assert "BTCUSDT" not in stranger.get("/account/alerts/").content.decode()
    refused = stranger.post("/account/alerts/", form(account))
    assert "Choose one of your exchange accounts." in refused.context["form"].errors["exchange_account"]
    assert PriceAlert.objects.count() == 1


# The API ----------------------------------------------------------------------------------


def test_the_api_creates_lists_reads_and_deletes_with_prices_as_strings(
    world: Any, account: ExchangeAccount
) -> None:
    api = bearer(world.owner)
    body = {"exchange_account": account.pk, "symbol": "BTCUSDT", "direction": "below", "price": "50000.5"}
    created = api.post("/api/v1/alerts/", {**body, "channels": ["in_app"]}, format="json")
    assert created.status_code == 201, created.content
    data = created.json()
    assert data["price"] == "50000.5"
    assert data["fired_price"] is None
    assert data["channels"] == ["in_app"]
    assert data["direction"] == AlertDirection.BELOW

    listed = api.get("/api/v1/alerts/").json()
    assert [a["id"] for a in listed["results"]] == [data["id"]]
    assert api.get(f"/api/v1/alerts/{data['id']}/").json()["symbol"] == "BTCUSDT"

    stranger = bearer(world.outsider)
    assert stranger.get(f"/api/v1/alerts/{data['id']}/").status_code == 404
    assert stranger.delete(f"/api/v1/alerts/{data['id']}/").status_code == 404
    assert stranger.get("/api/v1/alerts/").json()["results"] == []

    assert api.delete(f"/api/v1/alerts/{data['id']}/").status_code == 204
    assert not PriceAlert.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"price": "0"}, "price"),
        ({"price": 12}, None),  # a JSON number is accepted
        ({"symbol": "NOPEUSDT"}, "symbol"),
        ({"price": "40000"}, "price"),  # already above: would fire at once
        ({"channels": ["pigeon"]}, "channels"),
        ({"exchange_account": 0}, "exchange_account"),
    ],
)
def test_the_api_answers_400_with_the_field(
    world: Any, account: ExchangeAccount, change: dict[str, Any], field: str | None
) -> None:
    body = {
        "exchange_account": account.pk,
        "symbol": "BTCUSDT",
        "direction": "above",
        "price": "60000",
    } | change
    if field is None:
        body["direction"] = "below"
        assert bearer(world.owner).post("/api/v1/alerts/", body, format="json").status_code == 201
        return
    response = bearer(world.owner).post("/api/v1/alerts/", body, format="json")
    assert response.status_code == 400
    assert any(name.split(".")[0] == field for name in error_of(response)["fields"])


def test_the_api_rejects_another_traders_account_and_fires_at_once_when_asked(
    world: Any, account: ExchangeAccount, django_capture_on_commit_callbacks: Capture
) -> None:
    theirs = bearer(world.outsider).post(
        "/api/v1/alerts/",
        {"exchange_account": account.pk, "symbol": "BTCUSDT", "direction": "above", "price": "60000"},
        format="json",
    )
    assert theirs.status_code == 400
    assert "exchange_account" in error_of(theirs)["fields"]
    with django_capture_on_commit_callbacks(execute=True):
        fired = bearer(world.owner).post(
            "/api/v1/alerts/",
            {
                "exchange_account": account.pk,
                "symbol": "BTCUSDT",
                "direction": "above",
                "price": "1",
                "fire_now": True,
            },
            format="json",
        )
    assert fired.status_code == 201
    assert fired.json()["fired_price"] == "54000"
    assert len(alert_notifications(world.owner)) == 1


def test_the_schema_documents_the_alerts_endpoints(world: Any) -> None:
    response = Client().get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    schema = json.loads(response.content)
    assert {"get", "post"} <= set(schema["paths"]["/api/v1/alerts/"])
    assert {"get", "delete"} <= set(schema["paths"]["/api/v1/alerts/{id}/"])
