"""Futures grid backtests through the API: queued by POST with the futures preview's fields, run by
the Celery task in-process on the shipped candles, read back with their `futures` figures (equal to
a direct run's); bad settings are 400s naming `config.<field>`; the optimiser refuses them."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots.backtest import perpetual
from bots.backtests import tasks
from bots.backtests.actions import perpetual_for
from bots.backtests.models import Backtest, BacktestFill, Optimisation
from bots.backtests.run import futures_json
from bots.strategies import futures_grid
from bots.tests.conftest import paper_account_for
from bots.tests.test_api_optimise import BODY as OPTIMISE_BODY
from exchanges.market_data import files

D = Decimal
SHIPPED = files.shipped_file("BTCUSDT", "5m")
START, END = datetime(2023, 1, 3, tzinfo=UTC), datetime(2023, 1, 5, tzinfo=UTC)
CONFIG: dict[str, Any] = {
    "lower_price": "16000",
    "upper_price": "18000",
    "grid_count": 20,
    "investment": "1000",
    "leverage": "5",
    "mode": "long",
}
BODY: dict[str, Any] = {
    "strategy": "futures_grid",
    "config": CONFIG,
    "symbol": "BTCUSDT",
    "interval": "5m",
    "start": "2023-01-03T00:00:00Z",
    "end": "2023-01-05T00:00:00Z",
}


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(tasks.run_backtest, "delay", sent.append)
    return sent


def post(client: Any, **changes: Any) -> Any:
    return client.post("/api/v1/backtests/", {**BODY, **changes}, format="json")


def direct_run(**config: Any) -> perpetual.Result:
    assert SHIPPED is not None
    candles = [c for c in files.read_candle_file(SHIPPED) if START <= c.open_time < END]
    settings = futures_grid.config_from_json({**CONFIG, **config, "symbol": "BTCUSDT"})
    return perpetual.run(settings, perpetual_for("BTCUSDT"), candles)


@pytest.mark.parametrize("mode", ["long", "short"])
def test_a_futures_backtest_runs_and_reports_funding_as_the_direct_run_does(
    trader, queued, django_capture_on_commit_callbacks, mode: str
) -> None:
    client = bearer(trader)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client, config={**CONFIG, "mode": mode})
    assert response.status_code == 202, response.content
    queued_body = response.json()
    assert queued_body["strategy"] == "futures_grid"
    assert queued_body["config"]["leverage"] == "5"
    assert queued_body["config"]["mode"] == mode
    assert queued == [queued_body["id"]]

    tasks.run_backtest(queued_body["id"])

    body = client.get(f"/api/v1/backtests/{queued_body['id']}/").json()
    assert body["status"] == "done", body["error"]
    assert body["candles"] == 576
    expected = direct_run(mode=mode)
    figures = body["metrics"]
    stored = Backtest.objects.get(pk=queued_body["id"]).metrics
    assert stored is not None
    assert stored["futures"] == futures_json(expected)
    assert D(figures["futures"]["funding_paid"]) == expected.funding_paid
    assert D(figures["total_pnl"]) == expected.total_pnl
    assert D(figures["grid_profit"]) == expected.grid_profit
    assert figures["deals"] is None
    futures = figures["futures"]
    assert futures["funding_source"] == "assumed"
    assert futures["funding_rate_assumed"] == "0.0001"
    assert futures["funding_settlements"] == 5  # 08 and 16 on the 3rd, 00, 08 and 16 on the 4th
    assert futures["liquidated_at"] is None
    paid, received = D(futures["funding_paid"]), D(futures["funding_received"])
    assert (paid > 0, received > 0) == ((True, False) if mode == "long" else (False, True))
    assert D(figures["grid_profit"]) + D(figures["unrealized"]) - D(futures["fees"]) - paid + received == D(
        figures["total_pnl"]
    )
    assert len(body["equity"]) == 576
    assert BacktestFill.objects.filter(backtest_id=queued_body["id"]).count() == len(expected.fills)


def test_a_liquidated_run_says_when_and_where_on_its_page_too(trader, queued) -> None:
    client = bearer(trader)
    # January 2023 rose: a 20x short with its range below the start is liquidated within days.
    config = {**CONFIG, "mode": "short", "leverage": "20", "lower_price": "15000", "upper_price": "16900"}
    response = post(client, config=config, end="2023-01-20T00:00:00Z")
    assert response.status_code == 202, response.content
    tasks.run_backtest(response.json()["id"])
    body = client.get(f"/api/v1/backtests/{response.json()['id']}/").json()
    assert body["status"] == "done", body["error"]
    futures = body["metrics"]["futures"]
    assert futures["liquidated_at"] is not None
    assert D(futures["margin_lost"]) > 0
    assert D(futures["liquidation_price"]) > D("16900")
    assert body["equity"][-1]["time"] == futures["liquidated_at"]

    browser = Client()
    browser.force_login(trader)
    page = browser.get(f"/backtests/{body['id']}/")
    assert page.status_code == 200
    html = page.content.decode()
    liquidated_at = futures["liquidated_at"][:16].replace("T", " ")
    assert f"Liquidated at {liquidated_at} UTC at " in html
    assert "the position margin was lost" in html
    assert "Funding assumed at 0.01% per 8 hours: no funding history ships." in html
    assert f'href="/bots/new/?backtest={body["id"]}">Create a bot from this backtest' in html
    chart = page.context["chart"]
    assert chart["liquidation"]["price"] == futures["liquidation_price"]
    # It becomes a futures bot in the futures wizard; another trader's is a 404.
    paper_account_for(trader)
    wizard = browser.get(f"/bots/new/?backtest={body['id']}")
    assert wizard.status_code == 200
    assert (wizard.context["form"].initial["mode"], wizard.context["form"].initial["leverage"]) == (
        "short",
        "20",
    )
    stranger = make_user(email="stranger@example.com")
    paper_account_for(stranger)
    other = Client()
    other.force_login(stranger)
    assert other.get(f"/bots/new/?backtest={body['id']}").status_code == 404


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [
        ({**CONFIG, "leverage": "50"}, "config.leverage", "20x"),
        ({**CONFIG, "upper_price": "15000"}, "config.upper_price", "above the lower"),
        ({**CONFIG, "investment": "5"}, "config.investment", ""),
        ({**CONFIG, "mode": "sideways"}, "config.mode", ""),
        ({**CONFIG, "stop_loss_price": "15000"}, "config.stop_loss_price", "do not simulate"),
        ({**CONFIG, "symbol": "ETHUSDT"}, "config.symbol", "ETHUSDT"),
    ],
)
def test_bad_futures_settings_are_400s_naming_the_config_field(
    trader, queued, config: dict[str, Any], field: str, words: str
) -> None:
    response = post(bearer(trader), config=config)
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert field in error["fields"], error
    assert words in " ".join(error["fields"][field])
    assert not Backtest.objects.exists()
    assert queued == []


def test_the_optimiser_refuses_a_futures_grid_with_a_clear_400(trader) -> None:
    response = bearer(trader).post(
        "/api/v1/backtests/optimize/", {**OPTIMISE_BODY, "strategy": "futures_grid"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "futures grid" in error_of(response)["fields"]["strategy"][0]
    assert not Optimisation.objects.exists()


def test_the_schema_describes_futures_requests_and_results() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    body = schema["paths"]["/api/v1/backtests/"]["post"]["requestBody"]["content"]["application/json"]
    mapping = components[body["schema"]["$ref"].rsplit("/", 1)[1]]["discriminator"]["mapping"]
    request = components[mapping["futures_grid"].rsplit("/", 1)[1]]["properties"]
    config = request["config"]["allOf"][0] if "allOf" in request["config"] else request["config"]
    fields = components[config["$ref"].rsplit("/", 1)[1]]["properties"]
    assert {"leverage", "mode", "lower_price", "investment"} <= set(fields)
    assert not {"account", "reference_price", "strategy"} & set(fields)
    futures = components["FuturesMetrics"]["properties"]
    assert {"funding_paid", "funding_received", "funding_rate_assumed", "funding_source"} <= set(futures)
    assert {"liquidated_at", "liquidation_price", "max_leverage_used", "fees"} <= set(futures)


@pytest.mark.parametrize(
    ("name", "value"),
    [("take_profit_percent", "20"), ("stop_loss_percent", "30"), ("liquidation_stop_distance", "5")],
)
def test_an_exit_the_backtest_would_not_honour_is_refused_beside_its_field(
    trader, queued, name: str, value: str
) -> None:
    response = post(bearer(trader), config={**CONFIG, name: value})
    assert response.status_code == 400
    assert error_of(response)["fields"][f"config.{name}"] == [
        "Futures backtests do not simulate this yet: leave it empty."
    ]
    assert not Backtest.objects.exists()
