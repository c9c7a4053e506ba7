"""A futures bot's position through the API: the paper venue's own figures with the distance to
liquidation, a flat position, a spot bot refused, another trader's bot a 404, a venue down a 503."""

from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.tests.api import bearer, error_of
from accounts.tests.factories import make_user
from bots.strategies import futures_grid
from bots.tests.futures_bots import futures_bot, open_position, paper_venue
from exchanges.base import ExchangeUnavailable, PositionSide, Side
from exchanges.paper import market
from exchanges.paper.exchange import PaperExchange

D = Decimal


def url(bot_id: int) -> str:
    return f"/api/v1/bots/{bot_id}/position/"


def test_a_long_is_the_venues_position_with_its_distance_to_liquidation(trader) -> None:
    bot = futures_bot(trader, liquidation_stop_distance=D("3"))
    open_position(bot)
    market.set_price("BTCUSDT", D("55400"))

    response = bearer(trader, "read").get(url(bot.pk))

    assert response.status_code == 200, response.content
    body = response.json()
    (venue,) = paper_venue(bot).positions("BTCUSDT")
    assert venue.side is PositionSide.LONG
    assert venue.size == D("0.074")
    assert (body["symbol"], body["mode"], body["side"]) == ("BTCUSDT", "long", "long")
    assert D(body["size"]) == venue.size
    assert D(body["entry_price"]) == venue.entry_price > D("55000")  # a market buy, slipped
    assert D(body["mark_price"]) == venue.mark_price == D("55400")
    assert D(body["leverage"]) == venue.leverage == D("10")
    assert venue.liquidation_price is not None
    assert D(body["liquidation_price"]) == venue.liquidation_price
    assert D(body["position_margin"]) == venue.position_margin
    assert D(body["unrealised_pnl"]) == venue.unrealised_pnl == (D("55400") - venue.entry_price) * D("0.074")
    want = futures_grid.distance_to_liquidation(PositionSide.LONG, D("55400"), venue.liquidation_price)
    assert D(body["distance_to_liquidation_percent"]) == want.quantize(D("0.01"), rounding="ROUND_FLOOR")
    assert D("9") < D(body["distance_to_liquidation_percent"]) < D("11")  # about 1 / leverage
    assert D(body["liquidation_stop_distance"]) == D("3")
    assert body["funding"] is None  # no books yet: nothing counted


def test_a_short_measures_its_distance_upwards(trader) -> None:
    bot = futures_bot(trader, mode=futures_grid.Mode.SHORT)
    open_position(bot, Side.SELL)

    body = bearer(trader, "read").get(url(bot.pk)).json()

    assert (body["mode"], body["side"]) == ("short", "short")
    assert D(body["liquidation_price"]) > D("55000")
    assert D("9") < D(body["distance_to_liquidation_percent"]) < D("11")
    assert body["liquidation_stop_distance"] is None


def test_a_flat_position_has_no_side_size_zero_and_no_prices(trader) -> None:
    bot = futures_bot(trader)

    response = bearer(trader, "read").get(url(bot.pk))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["side"] is None
    assert body["size"] == "0"
    assert body["entry_price"] is None
    assert body["liquidation_price"] is None
    assert body["distance_to_liquidation_percent"] is None
    assert D(body["mark_price"]) == D("55000")  # the market's price, which a flat position has too
    assert D(body["unrealised_pnl"]) == 0


def test_a_spot_bot_is_a_409_saying_it_holds_no_position(trader, paper_bot) -> None:
    response = bearer(trader, "read").get(url(paper_bot.pk))

    assert response.status_code == 409
    error = error_of(response)
    assert error["code"] == "not_futures"
    assert "only futures grid bots hold a position" in error["message"]


def test_another_traders_bot_is_a_404(trader) -> None:
    bot = futures_bot(trader)
    open_position(bot)
    stranger = make_user(email="stranger@example.com")

    response = bearer(stranger, "read").get(url(bot.pk))

    assert response.status_code == 404
    assert "BTCUSDT" not in response.content.decode()


def test_a_venue_that_cannot_answer_is_a_503_with_its_message(
    trader, monkeypatch: pytest.MonkeyPatch
) -> None:
    bot = futures_bot(trader)

    def down(self: PaperExchange, symbol: str | None = None) -> list[object]:
        raise ExchangeUnavailable("Bybit timed out.")

    monkeypatch.setattr(PaperExchange, "positions", down)
    response = bearer(trader, "read").get(url(bot.pk))

    assert response.status_code == 503
    error = error_of(response)
    assert error["code"] == "exchange_unavailable"
    assert "Bybit timed out." in error["message"]
