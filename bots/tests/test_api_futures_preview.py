"""The futures grid's preview through the API: the pure preview's numbers on the paper venue's
perpetual, the mark price when no reference price is sent, a 400 naming the field for bad input,
and another user's account a 404."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots.strategies import futures_grid as fg
from bots.tests.conftest import paper_account_for
from exchanges.paper import market
from exchanges.paper.instruments import LINEAR_INSTRUMENTS, MAX_LEVERAGE
from exchanges.perpetuals.margin import BTCUSDT_TIERS

D = Decimal
URL = "/api/v1/bots/preview/"
CONFIG = {
    "strategy": "futures_grid",
    "symbol": "BTCUSDT",
    "lower_price": "50000",
    "upper_price": "60000",
    "grid_count": 5,
    "investment": "1000",
    "leverage": "10",
    "mode": "long",
}


@pytest.fixture
def account(trader):
    market.set_price("BTCUSDT", D("55000"))
    return paper_account_for(trader)


def _pure(**changes: object) -> fg.FuturesGridPreview:
    data = {k: v for k, v in {**CONFIG, **changes}.items() if k != "strategy"}
    perpetual = fg.Perpetual(LINEAR_INSTRUMENTS["BTCUSDT"], BTCUSDT_TIERS, MAX_LEVERAGE["BTCUSDT"])
    return fg.preview(fg.config_from_json(data), perpetual, D(55000))


def test_the_preview_answers_the_pure_previews_numbers(trader, account) -> None:
    response = bearer(trader, "read").post(
        URL, {**CONFIG, "account": account.pk, "reference_price": "55000"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    want = _pure()
    assert (body["strategy"], body["symbol"], body["mode"], body["leverage"]) == (
        "futures_grid",
        "BTCUSDT",
        "long",
        "10",
    )
    assert body["reference_price"] == "55000"
    assert [(row["price"], row["side"], row["quantity"], row["reduce_only"]) for row in body["levels"]] == [
        ("50000", "buy", "0.037", False),
        ("52000", "buy", "0.037", False),
        ("54000", "buy", "0.037", False),
        ("56000", None, None, None),
        ("58000", "sell", "0.037", True),
        ("60000", "sell", "0.037", True),
    ]
    assert D(body["quantity_per_order"]) == want.quantity_per_order
    assert D(body["initial_margin"]) == want.initial_margin == D("989.07179")
    assert D(body["margin_at_start"]) == want.margin_at_start
    assert D(body["position_at_start"]) == want.position_at_start == D("0.074")
    assert D(body["maintenance_margin_rate"]) == D("0.0033")
    assert D(body["liquidation_price"]) == want.liquidation_price == D("48055.56")
    assert D(body["liquidation_price_at_start"]) == want.liquidation_price_at_start
    assert body["liquidation_price_short_side"] is None
    assert D(body["profit_per_grid_min"]) == want.profit_per_grid_min
    assert D(body["profit_per_grid_max"]) == want.profit_per_grid_max
    percent = (want.profit_per_grid_min_fraction * 100).quantize(D("0.0001"), rounding="ROUND_DOWN")
    assert D(body["profit_per_grid_min_percent"]) == percent
    assert D(body["min_investment"]) == want.min_investment
    assert body["warnings"] == list(want.warnings)
    assert body["warnings"][-1] == fg.FUNDING_NOTE


def test_a_neutral_preview_gives_both_sides_liquidation(trader, account) -> None:
    response = bearer(trader, "read").post(
        URL, {**CONFIG, "mode": "neutral", "account": account.pk, "reference_price": "55000"}, format="json"
    )
    assert response.status_code == 200, response.content
    body = response.json()
    want = _pure(mode="neutral")
    assert D(body["liquidation_price"]) == want.liquidation_price
    assert D(body["liquidation_price_short_side"]) == want.liquidation_price_short_side
    assert body["liquidation_price_at_start"] is None
    assert D(body["position_at_start"]) == 0
    assert {row["reduce_only"] for row in body["levels"]} == {False, None}


def test_without_a_reference_price_the_grid_is_laid_out_at_the_mark_price(trader, account) -> None:
    market.set_price("BTCUSDT", D("54321"))
    response = bearer(trader, "read").post(URL, {**CONFIG, "account": account.pk}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["reference_price"] == "54321"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"leverage": "0"}, "leverage", "Choose a leverage from 1x to 20x"),
        ({"leverage": "21"}, "leverage", "Choose a leverage from 1x to 20x"),
        ({"leverage": "2.555"}, "leverage", ""),
        ({"lower_price": "60000"}, "upper_price", "The upper price must be above the lower price."),
        ({"investment": "10"}, "investment", "a margin of at least 27 USDT"),
        ({"mode": "sideways"}, "mode", ""),
        ({"take_profit_price": "59000"}, "take_profit_price", "above the upper price"),
        ({"symbol": "ETHUSDT"}, "symbol", ""),
    ],
)
def test_bad_input_is_a_400_naming_the_field(trader, account, change, field, words) -> None:
    response = bearer(trader, "read").post(
        URL, {**CONFIG, "account": account.pk, "reference_price": "55000", **change}, format="json"
    )
    assert response.status_code == 400, response.content
    fields = error_of(response)["fields"]
    assert field in fields, fields
    assert words in " ".join(fields[field])


def test_the_servers_cap_is_a_setting(trader, account, settings) -> None:
    settings.FUTURES_MAX_LEVERAGE = 5
    response = bearer(trader, "read").post(
        URL, {**CONFIG, "account": account.pk, "reference_price": "55000"}, format="json"
    )
    assert response.status_code == 400
    assert error_of(response)["fields"]["leverage"] == [
        "Choose a leverage from 1x to 5x (this server's limit)."
    ]


def test_another_users_account_is_a_404(trader, account) -> None:
    stranger = make_user()
    response = bearer(stranger, "read").post(
        URL, {**CONFIG, "account": account.pk, "reference_price": "55000"}, format="json"
    )
    assert response.status_code == 404
    assert "account" in error_of(response)["fields"]
