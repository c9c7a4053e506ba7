"""The grid strategy against published worked examples. Pure: no database."""

from __future__ import annotations

import ast
from decimal import Decimal
from pathlib import Path

import pytest

from bots.strategies import grid
from bots.strategies.grid import Direction, GridConfigError, Spacing
from bots.tests.factories import grid_config as config
from exchanges.base import Side
from exchanges.paper.instruments import INSTRUMENTS

BTC = INSTRUMENTS["BTCUSDT"]
D = Decimal


def test_bybit_style_example_places_buys_below_and_sells_above() -> None:
    result = grid.preview(config(), BTC, D("54000"))

    assert [level.price for level in result.levels] == [
        D(p) for p in ("45000", "49000", "53000", "57000", "61000", "65000")
    ]
    sides = {level.price: level.side for level in result.levels}
    assert [p for p, s in sides.items() if s is Side.BUY] == [D("45000"), D("49000"), D("53000")]
    assert [p for p, s in sides.items() if s is Side.SELL] == [D("61000"), D("65000")]
    assert sides[D("57000")] is None, "the first line at or above the price stays empty"


def test_arithmetic_levels_follow_the_published_formula() -> None:
    lines = grid.grid_lines(config(lower_price=D("100"), upper_price=D("200"), grid_count=4), BTC)
    assert lines == (D("100"), D("125"), D("150"), D("175"), D("200"))


def test_geometric_levels_follow_the_published_formula() -> None:
    lines = grid.grid_lines(
        config(lower_price=D("1000"), upper_price=D("16000"), grid_count=4, spacing=Spacing.GEOMETRIC), BTC
    )
    # P_i = L * (U/L)^(i/N): ratio 16 over 4 steps is exactly x2 per step.
    assert lines == (D("1000"), D("2000"), D("4000"), D("8000"), D("16000"))
    uneven = grid.grid_lines(
        config(lower_price=D("20000"), upper_price=D("30000"), grid_count=3, spacing=Spacing.GEOMETRIC), BTC
    )
    assert uneven == (D("20000"), D("22894.3"), D("26207.4"), D("30000"))


def test_profit_per_grid_with_a_tenth_of_a_percent_fee() -> None:
    # Buy 1 at 100, receive 0.999; sell 0.999 at 110 for 0.999*110*0.999 = 109.78011.
    assert grid.profit_per_grid([D("100"), D("110")], D("0.001")) == [D("0.0978011")]
    result = grid.preview(config(), BTC, D("54000"))
    assert result.profit_per_grid_max == D("0.998001") * D("49000") / D("45000") - 1
    assert result.profit_per_grid_min == D("0.998001") * D("65000") / D("61000") - 1


def test_equal_base_quantity_rounded_down_and_within_the_investment() -> None:
    result = grid.preview(config(), BTC, D("54000"))
    quantity = result.quantity_per_order
    assert quantity % BTC.quantity_step == 0
    assert {level.quantity for level in result.levels if level.side} == {quantity}
    assert result.investment_used <= D("1000")
    assert result.investment_used + (53000 + 49000 + 45000 + 2 * 54000) * BTC.quantity_step > D("1000")
    # Base for the two sells, bought at start with the fee reserved.
    assert result.base_to_buy * (1 - BTC.taker_fee) >= 2 * quantity
    assert result.base_to_buy - BTC.quantity_step < 2 * quantity / (1 - BTC.taker_fee)


def test_too_many_grids_for_the_money_says_what_to_do() -> None:
    with pytest.raises(GridConfigError) as caught:
        grid.validate(config(investment=D("160"), grid_count=50), BTC, D("54000"), venue="Bybit")
    [message] = caught.value.errors["investment"]
    assert message.startswith("With 50 grids, each order would be ")
    assert "Bybit's minimum is 5 USDT" in message
    assert "Use at most " in message
    assert "or invest at least " in message
    most = int(message.split("Use at most ")[1].split(" ")[0])
    needed = D(message.split("invest at least ")[1].split(" ")[0])
    grid.validate(config(investment=D("160"), grid_count=most), BTC, D("54000"))
    grid.validate(config(investment=needed, grid_count=50), BTC, D("54000"))
    with pytest.raises(GridConfigError):
        grid.validate(config(investment=D("160"), grid_count=most + 1), BTC, D("54000"))


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"upper_price": D("45000")}, "upper_price"),
        ({"grid_count": 1}, "grid_count"),
        ({"grid_count": 201}, "grid_count"),
        ({"investment": D("0")}, "investment"),
        ({"stop_loss_price": D("46000")}, "stop_loss_price"),
        ({"take_profit_price": D("60000")}, "take_profit_price"),
        ({"max_drawdown": D("1.5")}, "max_drawdown"),
    ],
)
def test_invalid_configs_name_their_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(GridConfigError) as caught:
        grid.validate(config(**overrides), BTC, D("54000"))
    assert field in caught.value.errors


def test_levels_that_collapse_on_the_tick_grid_are_an_error() -> None:
    with pytest.raises(GridConfigError) as caught:
        grid.validate(config(lower_price=D("100"), upper_price=D("105"), grid_count=100), BTC, D("102"))
    assert "same price" in caught.value.errors["grid_count"][0]


def test_price_outside_the_range_is_a_warning() -> None:
    result = grid.preview(config(), BTC, D("70000"))
    assert any("above your range" in w for w in result.warnings)
    assert all(level.side in (Side.BUY, None) for level in result.levels)


def test_loss_at_the_lower_bound_counts_every_buy_filled() -> None:
    result = grid.preview(config(), BTC, D("54000"))
    q = result.quantity_per_order
    base = result.base_to_buy * (1 - BTC.taker_fee) + 3 * q * (1 - BTC.maker_fee)
    quote = D("1000") - result.investment_used
    equity = base * 45000 + quote
    assert result.loss_at_stop == D("1000") - equity
    assert result.loss_at_stop_fraction == result.loss_at_stop / result.investment_used


def test_break_even_is_the_fee_inclusive_cost_of_the_start_purchase() -> None:
    result = grid.preview(config(), BTC, D("54000"))
    assert result.break_even_price == BTC.round_price(D("54000") / (1 - BTC.taker_fee), "ROUND_UP")


def test_short_grid_sells_base_at_start_and_buys_with_the_proceeds() -> None:
    result = grid.preview(config(direction=Direction.SHORT), BTC, D("54000"))
    assert result.base_to_buy == 0
    assert result.base_to_sell > 0
    buys = [level for level in result.levels if level.side is Side.BUY]
    sells = [level for level in result.levels if level.side is Side.SELL]
    assert {s.quantity for s in sells} == {result.quantity_per_order}
    assert all((b.quantity or 0) > result.quantity_per_order for b in buys), "buy-backs grow the base"


def test_the_strategy_imports_no_django() -> None:
    source = Path(grid.__file__).read_text()
    imported = {
        alias.name.split(".")[0]
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in (node.names if isinstance(node, ast.Import) else [ast.alias(node.module or "")])
    }
    assert "django" not in imported
