"""Futures grid bots through the API: created as drafts at the perpetual's mark price with the
strategy's rules, the trader's leverage cap and the margin free; a 400 naming the field for bad
input; one futures bot per account and symbol at a time; a liquidation inside the range starts
only with the trader's consent."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots.models import Bot, BotStatus
from bots.strategies import futures_grid as fg
from bots.tests.conftest import paper_account_for
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper import market
from exchanges.paper.service import open_paper_account
from risk.models import RiskRules

D = Decimal
URL = "/api/v1/bots/"
CONFIG = {
    "strategy": "futures_grid",
    "name": "BTC futures",
    "symbol": "BTCUSDT",
    "lower_price": "50000",
    "upper_price": "60000",
    "grid_count": 5,
    "investment": "1000",
    "leverage": "10",
    "mode": "long",
}
# At 20x the position built by the buys below 55,000 is liquidated before the lowest buy fills.
RISKY = {**CONFIG, "leverage": "20"}


@pytest.fixture
def account(trader):
    market.set_price("BTCUSDT", D("55000"))
    return paper_account_for(trader)


def _create(user, account, **changes: object):
    return bearer(user).post(URL, {**CONFIG, "account": account.pk, **changes}, format="json")


def test_a_futures_grid_bot_is_created_as_a_draft(trader, account) -> None:
    response = _create(
        trader,
        account,
        mode="neutral",
        take_profit_price="62000",
        liquidation_stop_distance="2.5",
        stop_loss_percent="30",
    )
    assert response.status_code == 201, response.content
    bot = Bot.objects.get(pk=response.json()["id"])
    assert (bot.owner, bot.strategy, bot.status, bot.symbol) == (
        trader,
        "futures_grid",
        BotStatus.DRAFT,
        "BTCUSDT",
    )
    assert bot.price_at_creation == D(55000)
    config = bot.strategy_config
    assert isinstance(config, fg.FuturesGridConfig)
    assert (config.mode, config.leverage, config.investment) == (fg.Mode.NEUTRAL, D(10), D(1000))
    assert (config.take_profit_price, config.liquidation_stop_distance) == (D(62000), D("2.5"))
    assert (config.take_profit_percent, config.stop_loss_percent) == (None, D(30))
    body = response.json()
    assert body["strategy"] == "futures_grid"
    assert body["config"]["mode"] == "neutral"
    assert body["config"]["leverage"] == "10"
    assert body["config"]["liquidation_stop_distance"] == "2.5"
    assert body["config"]["stop_loss_percent"] == "30"
    assert bearer(trader, "read").get(f"{URL}{bot.pk}/").json()["config"]["investment"] == "1000"


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        ({"leverage": "0"}, "leverage", "Choose a leverage from 1x to 20x"),
        ({"leverage": "2.555"}, "leverage", ""),
        ({"lower_price": "60000"}, "upper_price", "The upper price must be above the lower price."),
        ({"investment": "10"}, "investment", "a margin of at least 27 USDT"),
        ({"mode": "sideways"}, "mode", ""),
        ({"stop_loss_price": "51000"}, "stop_loss_price", "below the lower price"),
        ({"liquidation_stop_distance": "60"}, "liquidation_stop_distance", "at most 50%"),
        ({"stop_loss_percent": "100"}, "stop_loss_percent", "below 100% of the margin"),
        ({"take_profit_percent": "0"}, "take_profit_percent", "above 0% of the margin"),
        ({"symbol": "ETHUSDT"}, "symbol", "ETHUSDT"),
        ({"name": ""}, "name", ""),
    ],
)
def test_bad_input_is_a_400_naming_the_field(trader, account, change, field, words) -> None:
    response = _create(trader, account, **change)
    assert response.status_code == 400, response.content
    fields = error_of(response)["fields"]
    assert field in fields, fields
    assert words in " ".join(fields[field])
    assert not Bot.objects.exists()


def test_leverage_over_the_traders_own_cap_is_refused(trader, account) -> None:
    RiskRules.objects.create(user=trader, max_leverage=5)
    response = _create(trader, account)
    assert response.status_code == 400
    assert error_of(response)["fields"]["leverage"] == [
        "Choose a leverage from 1x to 5x (your own limit in Risk rules)."
    ]
    assert _create(trader, account, leverage="5").status_code == 201


def test_the_margin_must_be_free_in_usdt(trader) -> None:
    market.set_price("BTCUSDT", D("55000"))
    poor = paper_account_for(trader, usdt="400")
    response = _create(trader, poor, investment="500")
    assert response.status_code == 400
    message = " ".join(error_of(response)["fields"]["investment"])
    assert "This futures grid needs 500.00 USDT free" in message
    assert "as margin" in message
    assert not Bot.objects.exists()


def test_a_second_futures_bot_on_the_same_position_is_refused(trader, account) -> None:
    first = Bot.objects.get(pk=_create(trader, account).json()["id"])
    assert _create(trader, account, name="Second draft").status_code == 201  # drafts hold nothing
    Bot.objects.filter(pk=first.pk).update(status=BotStatus.RUNNING)
    response = _create(trader, account, name="Third")
    assert response.status_code == 400
    assert error_of(response)["fields"]["symbol"] == [
        "“BTC futures” already trades the BTCUSDT perpetual on “Paper” (running): bots there share "
        "one position. Stop it first, or choose another account or symbol."
    ]
    second = Bot.objects.get(name="Second draft")
    refused = bearer(trader).post(f"{URL}{second.pk}/start/", {}, format="json")
    assert refused.status_code == 400
    assert "“BTC futures” already trades" in error_of(refused)["fields"]["symbol"][0]
    other_account = ExchangeAccount.objects.create(
        owner=trader,
        label="Paper two",
        exchange=ExchangeName.PAPER,
        environment=Environment.PAPER,
        paper_account=open_paper_account("second", {"USDT": D(5000)}),
    )
    assert _create(trader, other_account, name="Elsewhere").status_code == 201
    Bot.objects.filter(pk=first.pk).update(status=BotStatus.STOPPED)
    assert bearer(trader).post(f"{URL}{second.pk}/start/", {}, format="json").status_code == 200


def test_a_liquidation_inside_the_range_starts_only_with_consent(trader, account) -> None:
    response = _create(trader, account, **RISKY)
    assert response.status_code == 201, response.content
    bot_id = response.json()["id"]
    client = bearer(trader)
    refused = client.post(f"{URL}{bot_id}/start/", {}, format="json")
    assert refused.status_code == 400
    assert error_of(refused)["fields"]["confirm_liquidation_risk"] == [
        "The position would be liquidated at about 52,113.8 USDT, inside your range (50,000 to 60,000 USDT). "
        "Confirm that you accept this risk to start it."
    ]
    assert Bot.objects.get(pk=bot_id).status == BotStatus.DRAFT
    assert (
        client.post(f"{URL}{bot_id}/start/", {"confirm_liquidation_risk": "yes"}, format="json").status_code
        == 400
    )
    started = client.post(f"{URL}{bot_id}/start/", {"confirm_liquidation_risk": True}, format="json")
    assert started.status_code == 200, started.content
    assert started.json()["status"] == "starting"


def test_a_liquidation_outside_the_range_needs_no_consent(trader, account) -> None:
    bot_id = _create(trader, account).json()["id"]
    response = bearer(trader).post(f"{URL}{bot_id}/start/")
    assert response.status_code == 200, response.content
    assert Bot.objects.get(pk=bot_id).status == BotStatus.STARTING


def test_another_users_account_is_a_404(trader, account) -> None:
    stranger = make_user()
    response = _create(stranger, account)
    assert response.status_code == 404
    assert "account" in error_of(response)["fields"]
    assert not Bot.objects.exists()


def test_a_futures_bots_settings_are_edited_with_its_rules(trader, account) -> None:
    bot_id = _create(trader, account).json()["id"]
    client = bearer(trader)
    response = client.patch(f"{URL}{bot_id}/", {"leverage": "5", "mode": "short"}, format="json")
    assert response.status_code == 200, response.content
    config = Bot.objects.get(pk=bot_id).strategy_config
    assert (config.leverage, config.mode, config.grid_count) == (D(5), fg.Mode.SHORT, 5)
    refused = client.patch(f"{URL}{bot_id}/", {"leverage": "50"}, format="json")
    assert refused.status_code == 400
    assert "leverage" in error_of(refused)["fields"]
