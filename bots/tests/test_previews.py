from __future__ import annotations

from decimal import Decimal

import pytest

from accounts.models import User
from bots.previews import check_preview
from bots.strategies import grid
from bots.tests.conftest import paper_account_for
from bots.tests.factories import grid_config
from exchanges.base import InvalidOrder, InvalidOrderReason, Side
from exchanges.paper import market

D = Decimal


def test_preview_at_a_reference_price_matches_the_worked_example(trader: User) -> None:
    account = paper_account_for(trader)
    result = check_preview(account, grid_config(), D("54000"))
    levels = [(level.price, level.side) for level in result.preview.levels]
    assert levels == [
        (D("45000"), Side.BUY),
        (D("49000"), Side.BUY),
        (D("53000"), Side.BUY),
        (D("57000"), None),
        (D("61000"), Side.SELL),
        (D("65000"), Side.SELL),
    ]
    assert result.price == D("54000")
    assert result.instrument.symbol == "BTCUSDT"


def test_preview_defaults_to_the_live_price(trader: User) -> None:
    market.set_price("BTCUSDT", D("60000"))
    result = check_preview(paper_account_for(trader), grid_config())
    assert result.price == D("60000")


def test_preview_reports_every_problem_by_field(trader: User) -> None:
    account = paper_account_for(trader)
    with pytest.raises(grid.GridConfigError) as caught:
        check_preview(account, grid_config(upper_price=D("40000"), grid_count=1), D("54000"))
    assert set(caught.value.errors) == {"upper_price", "grid_count"}
    with pytest.raises(grid.GridConfigError) as caught:
        check_preview(account, grid_config(), D("0"))
    assert "reference_price" in caught.value.errors


def test_unknown_symbol_is_the_exchange_error(trader: User) -> None:
    with pytest.raises(InvalidOrder) as caught:
        check_preview(paper_account_for(trader), grid_config(symbol="DOGEUSDT"), D("1"))
    assert caught.value.reason is InvalidOrderReason.UNKNOWN_SYMBOL
