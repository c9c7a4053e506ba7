"""The grid against the venue's per-order maxima: limit quantity, order value, market quantity. Pure."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from bots.strategies import grid
from bots.strategies.grid import Direction, GridConfigError
from bots.tests.factories import grid_config as config
from exchanges.paper.instruments import INSTRUMENTS

BTC = INSTRUMENTS["BTCUSDT"]  # 83 BTC per limit order, 41.5 per market order, 8,000,000 USDT per order
D = Decimal
ABOVE_THE_RANGE = D("70000")  # every interval holds a buy: no start trade
ONE_SELL_ABOVE = D("60000")  # lines 45,000 ... 65,000: four buys and one sell at 65,000


def investment_for(quantity: str, price: Decimal, **overrides: object) -> Decimal:
    """The smallest investment, to the cent, whose orders trade `quantity` each."""
    wanted = D(quantity)

    def reaches(cents: int) -> bool:
        candidate = config(investment=D(cents) / 100, **overrides)
        return grid.quantity_for_investment(candidate, BTC, price) >= wanted

    # The sizing rounds the start purchase up, so the plain cost can fall a few lot steps short.
    short = int(grid.size_grid(config(**overrides), BTC, price, wanted).investment_used * 100) - 1
    enough = short * 2
    while enough - short > 1:
        middle = (short + enough) // 2
        short, enough = (short, middle) if reaches(middle) else (middle, enough)
    investment = D(enough) / 100
    assert grid.quantity_for_investment(config(investment=investment, **overrides), BTC, price) == wanted
    return investment


def errors_of(candidate: grid.GridConfig, price: Decimal) -> list[str]:
    with pytest.raises(GridConfigError) as caught:
        grid.validate(candidate, BTC, price, venue="Bybit")
    return caught.value.errors["investment"]


def readable(message: str) -> None:
    """Numbers carry thousands separators and no long tails of decimals."""
    for number in re.findall(r"\d[\d,]*(?:\.\d+)?", message):
        whole = number.split(".")[0]
        assert re.fullmatch(r"\d{1,3}(,\d{3})*", whole), (number, message)
        assert len(number.split(".")[1]) <= 6 if "." in number else True, (number, message)


def test_a_rich_investment_is_refused_per_limit_order_with_what_to_do() -> None:
    candidate = config(investment=D("999999999"))
    [message] = errors_of(candidate, ABOVE_THE_RANGE)
    assert message == (
        "Each order would be 3,773.584901 BTC, above Bybit's maximum of 83 BTC per limit order: "
        "lower the investment to at most 21,995,000 USDT."
    ), "even 200 grids would not spread a billion thin enough, so only the investment is advised"
    readable(message)
    most = D("21995000")
    grid.validate(config(investment=most), BTC, ABOVE_THE_RANGE)
    with pytest.raises(GridConfigError):
        grid.validate(config(investment=most + 10_000), BTC, ABOVE_THE_RANGE)
    # More grids spread the same money thinner.
    fewer = config(investment=D("30000000"), lower_price=D("45000"), upper_price=D("65000"))
    [message] = errors_of(fewer, ABOVE_THE_RANGE)
    grids = int(re.search(r"or use at least (\d+) grids\.$", message).group(1))  # type: ignore[union-attr]
    grid.validate(config(investment=D("30000000"), grid_count=grids), BTC, ABOVE_THE_RANGE)
    with pytest.raises(GridConfigError):
        grid.validate(config(investment=D("30000000"), grid_count=grids - 1), BTC, ABOVE_THE_RANGE)


def test_an_order_of_exactly_the_limit_maximum_passes() -> None:
    at_most = investment_for("83", ABOVE_THE_RANGE)
    assert grid.quantity_for_investment(config(investment=at_most), BTC, ABOVE_THE_RANGE) == D("83")
    grid.validate(config(investment=at_most), BTC, ABOVE_THE_RANGE, venue="Bybit")

    over = investment_for("83.000001", ABOVE_THE_RANGE)
    [message] = errors_of(config(investment=over), ABOVE_THE_RANGE)
    assert message.startswith(
        "Each order would be 83.000001 BTC, above Bybit's maximum of 83 BTC per limit order"
    )


def test_an_order_worth_more_than_the_maximum_amount_is_refused() -> None:
    # The dearest buy, at 116,000 USDT, reaches 8,000,000 USDT with 68.965517 BTC: below 83 BTC.
    dear = {"lower_price": D("100000"), "upper_price": D("120000")}
    price = D("130000")
    grid.validate(config(investment=investment_for("68.965517", price, **dear), **dear), BTC, price)
    over = investment_for("68.965518", price, **dear)
    [message] = errors_of(config(investment=over, **dear), price)
    assert message.startswith("Each order would be worth 8,000,000.08 USDT, above Bybit's maximum of ")
    assert "8,000,000 USDT per order: lower the investment to at most " in message


def test_a_start_purchase_of_exactly_the_market_maximum_passes() -> None:
    # One sell level: the start buys its 41.4585 BTC plus the 0.1% fee, 41.5 BTC exactly.
    at_most = investment_for("41.4585", ONE_SELL_ABOVE)
    sizing = grid.size_grid(config(investment=at_most), BTC, ONE_SELL_ABOVE, D("41.4585"))
    assert sizing.base_to_buy == D("41.5")
    grid.validate(config(investment=at_most), BTC, ONE_SELL_ABOVE, venue="Bybit")

    over = investment_for("41.458501", ONE_SELL_ABOVE)
    [message] = errors_of(config(investment=over), ONE_SELL_ABOVE)
    assert message.startswith(
        "The start would buy 41.500002 BTC at market, above Bybit's maximum of 41.5 BTC per market "
        "order: lower the investment to at most "
    )
    assert "grids" not in message, "more grids do not shrink the start purchase"
    readable(message)


def test_a_rich_grid_breaks_both_maxima_and_each_is_named() -> None:
    messages = errors_of(config(investment=D("999999999")), D("54000"))
    assert [m.split(" would ")[0] for m in messages] == ["Each order", "The start"]
    assert "above Bybit's maximum of 41.5 BTC per market order" in messages[1]
    for message in messages:
        readable(message)
    most = D(re.search(r"at most ([\d,]+) USDT", messages[1]).group(1).replace(",", ""))  # type: ignore[union-attr]
    grid.validate(config(investment=most), BTC, D("54000"))


def test_a_reverse_grid_sells_its_start_base_within_the_market_maximum() -> None:
    candidate = config(investment=D("999999999"), direction=Direction.SHORT)
    messages = errors_of(candidate, D("54000"))
    assert messages[0].startswith("The largest order would be ")
    assert messages[1].startswith("The start would sell ")
    assert "per market order" in messages[1]


def test_an_ordinary_grid_meets_every_maximum() -> None:
    grid.validate(config(), BTC, D("54000"), venue="Bybit")
    assert grid.maximum_investment(config(), BTC, D("54000")) > D("1000000")
