"""DCA backtests through the API: queued by POST with a DCA bot's settings, run by the Celery
task in-process on the shipped candles, read back with their deal figures; the figures equal a
direct exact-mode run's; bad settings are 400s naming `config.<field>`; another trader's is a 404;
the optimiser stays the grid's."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots.backtest import exact
from bots.backtest.deals import deal_metrics
from bots.backtest.metrics import metrics
from bots.backtests import tasks
from bots.backtests.models import Backtest, BacktestStatus, Optimisation
from bots.backtests.run import deals_json, metrics_json
from bots.strategies import dca
from bots.tests.test_api_backtests import BODY as GRID_BODY
from bots.tests.test_api_optimise import BODY as OPTIMISE_BODY
from exchanges.base import Candle
from exchanges.market_data import files
from exchanges.paper.instruments import INSTRUMENTS

D = Decimal
SHIPPED = files.shipped_file("BTCUSDT", "5m")
DAY_START = datetime(2023, 1, 3, tzinfo=UTC)
DAY_END = datetime(2023, 1, 4, tzinfo=UTC)
# Small steps on a quiet day: two deals close, the third is still open at the end.
DCA_CONFIG: dict[str, Any] = {
    "base_order_size": "100",
    "safety_order_size": "50",
    "price_deviation": "0.1",
    "max_safety_orders": 3,
    "take_profit": "0.2",
}
DCA_BODY: dict[str, Any] = {
    "strategy": "dca",
    "config": DCA_CONFIG,
    "symbol": "BTCUSDT",
    "interval": "5m",
    "start": "2023-01-03T00:00:00Z",
    "end": "2023-01-04T00:00:00Z",
}


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(tasks.run_backtest, "delay", sent.append)
    return sent


def post(client: Any, **changes: Any) -> Any:
    return client.post("/api/v1/backtests/", {**DCA_BODY, **changes}, format="json")


def shipped_day() -> list[Candle]:
    assert SHIPPED is not None
    return [c for c in files.read_candle_file(SHIPPED) if DAY_START <= c.open_time < DAY_END]


def direct_run(**config: Any) -> exact.Result:
    settings = dca.config_from_json({**DCA_CONFIG, **config, "symbol": "BTCUSDT"})
    return exact.run(settings, INSTRUMENTS["BTCUSDT"], shipped_day(), strategy="dca")  # type: ignore[arg-type]


def test_a_dca_backtest_runs_and_reports_its_deals_as_the_exact_run_does(
    trader, queued, django_capture_on_commit_callbacks
) -> None:
    client = bearer(trader)
    with django_capture_on_commit_callbacks(execute=True):
        response = post(client)
    assert response.status_code == 202, response.content
    queued_body = response.json()
    assert queued_body["strategy"] == "dca"
    assert queued_body["config"]["take_profit"] == "0.2"
    assert queued_body["config"]["max_safety_orders"] == 3
    assert queued_body["config"]["take_profit_on"] == "total"  # the DCA output's defaults
    assert "lower_price" not in queued_body["config"]
    assert queued == [queued_body["id"]]
    stored = Backtest.objects.get(pk=queued_body["id"])
    assert stored.strategy == "dca"
    assert stored.owner == trader

    tasks.run_backtest(stored.pk)

    body = client.get(f"/api/v1/backtests/{stored.pk}/").json()
    assert body["status"] == "done", body["error"]
    assert body["candles"] == 288
    expected = direct_run()
    stored.refresh_from_db()
    assert stored.metrics == metrics_json(metrics(expected), expected)
    figures = body["metrics"]
    assert figures["total_pnl"] == str(expected.total_pnl)
    assert figures["fills"] == len(expected.fills)
    deals = deal_metrics(expected)
    assert stored.metrics["deals"] == deals_json(deals)
    assert deals.deals_closed == figures["deals"]["deals_closed"] == 2
    assert figures["deals"]["average_duration"] == deals.average_duration.total_seconds() == 11_700  # type: ignore[union-attr]
    assert figures["deals"]["max_duration"] == deals.max_duration.total_seconds() == 20_700  # type: ignore[union-attr]
    assert figures["deals"]["max_safety_orders_used"] == deals.max_safety_orders_used == 3
    assert D(figures["deals"]["max_floating_drawdown"]) == deals.max_floating_drawdown > 0
    open_deal = figures["deals"]["open_deal"]
    assert open_deal["safety_orders_used"] == deals.open_safety_orders_used == 3
    assert D(open_deal["unrealized"]) == deals.open_unrealized == expected.unrealized < 0
    assert D(figures["equity"]) - D(figures["investment"]) == D(figures["total_pnl"])
    assert D(figures["investment"]) == dca.max_funds(expected.config)  # type: ignore[arg-type]
    listed = client.get("/api/v1/backtests/").json()["results"]
    assert [(b["id"], b["strategy"], b["metrics"]["deals"]["deals_closed"]) for b in listed] == [
        (stored.pk, "dca", 2)
    ]


def test_a_deal_never_started_reports_no_deals(trader, queued) -> None:
    client = bearer(trader)
    response = post(client, config={**DCA_CONFIG, "start_condition": "price", "start_price": "15000"})
    assert response.status_code == 202, response.content
    tasks.run_backtest(response.json()["id"])
    body = client.get(f"/api/v1/backtests/{response.json()['id']}/").json()
    assert body["status"] == "done", body["error"]
    assert body["metrics"]["deals"] == {
        "deals_closed": 0,
        "average_duration": None,
        "max_duration": None,
        "max_safety_orders_used": 0,
        "max_floating_drawdown": "0",
        "open_deal": None,
    }
    assert body["metrics"]["fills"] == 0


def test_a_grid_backtests_metrics_have_no_deals(trader, queued) -> None:
    client = bearer(trader)
    response = client.post("/api/v1/backtests/", {**GRID_BODY, "end": "2023-01-04T00:00:00Z"}, format="json")
    assert response.status_code == 202, response.content
    tasks.run_backtest(response.json()["id"])
    body = client.get(f"/api/v1/backtests/{response.json()['id']}/").json()
    assert body["status"] == "done", body["error"]
    assert body["metrics"]["deals"] is None
    assert "grid_count" in body["config"]


@pytest.mark.parametrize(
    ("config", "field", "words"),
    [
        ({**DCA_CONFIG, "price_deviation": "0"}, "config.price_deviation", "above zero"),
        ({**DCA_CONFIG, "max_safety_orders": 0}, "config.max_safety_orders", ""),
        ({**DCA_CONFIG, "take_profit": "lots"}, "config.take_profit", ""),
        ({**DCA_CONFIG, "base_order_size": "0.5"}, "config.base_order_size", ""),
        ({**DCA_CONFIG, "max_active_safety_orders": 5}, "config.max_active_safety_orders", ""),
        ({**DCA_CONFIG, "direction": "sideways"}, "config.direction", ""),
        ({**DCA_CONFIG, "symbol": "ETHUSDT"}, "config.symbol", "ETHUSDT"),
        ({key: v for key, v in DCA_CONFIG.items() if key != "take_profit"}, "config.take_profit", ""),
    ],
)
def test_bad_dca_settings_are_400s_naming_the_config_field(
    trader, queued, config: dict[str, Any], field: str, words: str
) -> None:
    response = post(bearer(trader), config=config)
    assert response.status_code == 400, response.content
    error = error_of(response)
    assert error["code"] == "validation_error"
    assert field in error["fields"], error
    assert words in " ".join(error["fields"][field])
    assert not Backtest.objects.exists()
    assert queued == []


def test_a_dca_bots_settings_copied_whole_are_accepted(trader, queued) -> None:
    """`strategy`, `account` and `name` of a DCA bot's body are ignored inside `config`."""
    config = {**DCA_CONFIG, "strategy": "dca", "account": 7, "name": "BTC DCA", "symbol": "btcusdt"}
    response = post(bearer(trader), config=config)
    assert response.status_code == 202, response.content
    assert Backtest.objects.get().config["base_order_size"] == "100"


def test_another_traders_dca_backtest_is_a_404(trader, queued) -> None:
    backtest_id = post(bearer(trader)).json()["id"]
    other = bearer(make_user(email="other-dca@example.com"))
    assert other.get(f"/api/v1/backtests/{backtest_id}/").status_code == 404
    assert other.post(f"/api/v1/backtests/{backtest_id}/cancel/").status_code == 404
    assert other.get("/api/v1/backtests/").json()["results"] == []
    assert Backtest.objects.get(pk=backtest_id).status == BacktestStatus.QUEUED


def test_the_optimiser_refuses_dca_with_a_clear_400(trader) -> None:
    response = bearer(trader).post(
        "/api/v1/backtests/optimize/", {**OPTIMISE_BODY, "strategy": "dca"}, format="json"
    )
    assert response.status_code == 400, response.content
    assert "grids only" in error_of(response)["fields"]["strategy"][0]
    assert not Optimisation.objects.exists()


def test_the_schema_describes_dca_requests_and_deals() -> None:
    from drf_spectacular.generators import SchemaGenerator

    schema = SchemaGenerator().get_schema(request=None, public=True)
    components = schema["components"]["schemas"]
    body = schema["paths"]["/api/v1/backtests/"]["post"]["requestBody"]["content"]["application/json"]
    mapping = components[body["schema"]["$ref"].rsplit("/", 1)[1]]["discriminator"]["mapping"]
    assert set(mapping) == {"grid", "dca", "futures_grid"}
    dca_request = components[mapping["dca"].rsplit("/", 1)[1]]["properties"]
    config = dca_request["config"]["allOf"][0] if "allOf" in dca_request["config"] else dca_request["config"]
    assert "base_order_size" in components[config["$ref"].rsplit("/", 1)[1]]["properties"]
    deals = components["DealMetrics"]["properties"]
    assert {"deals_closed", "average_duration", "max_duration", "open_deal"} <= set(deals)


def test_a_dca_bot_that_runs_out_of_funds_stops_there_as_the_live_bot_would(trader, queued) -> None:
    """Each deal stopped out at a loss leaves less than the next deal needs: the live bot stops
    in error before it sends that deal's base order, and so does the run, keeping its figures."""
    client = bearer(trader)
    backtest_id = post(client, config={**DCA_CONFIG, "stop_loss": "0.3"}, end="2023-01-06T00:00:00Z").json()[
        "id"
    ]
    tasks.run_backtest(backtest_id)
    body = client.get(f"/api/v1/backtests/{backtest_id}/").json()
    assert body["status"] == "done", body["error"]
    stopped = body["metrics"]["stopped_early"]
    assert stopped["reason"].startswith("Deal ")
    assert "did not open" in stopped["reason"]
    assert "USDT available" in stopped["reason"]
    deals = body["metrics"]["deals"]
    assert deals["deals_closed"] >= 1
    assert deals["open_deal"] is None  # the deal that could not open is no deal
    assert body["equity"][-1]["time"] == stopped["time"]
    assert stopped["time"] < "2023-01-05T23:55:00Z"
    assert D(body["metrics"]["equity"]) < D(body["metrics"]["investment"])

    page = Client()
    page.force_login(trader)
    html = page.get(f"/backtests/{backtest_id}/").content.decode()
    assert "The bot would have stopped in error at" in html
    assert stopped["reason"].split(":")[0] in html


def test_a_run_that_ends_normally_has_no_early_stop(trader, queued) -> None:
    client = bearer(trader)
    backtest_id = post(client).json()["id"]
    tasks.run_backtest(backtest_id)
    body = client.get(f"/api/v1/backtests/{backtest_id}/").json()
    assert body["status"] == "done"
    assert body["metrics"]["stopped_early"] is None
