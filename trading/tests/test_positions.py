"""A perpetual's books: signed lots, funding, liquidation, and the identity that ties them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal as D

import pytest

from bots import codec
from exchanges.base import PositionSide, Side
from trading.ledger import LedgerError, LedgerFill
from trading.positions import PositionLedger

FEE = D("0.00055")
START = datetime(2026, 12, 1, 8, tzinfo=UTC)
EIGHT_HOURS = timedelta(hours=8)


def books() -> PositionLedger:
    return PositionLedger("BTC", "USDT", D(1000))


def fill(side: Side, price: str, quantity: str, lot: str, fee_rate: D = FEE) -> LedgerFill:
    q, p = D(quantity), D(price)
    return LedgerFill(side, p, q, q * p * fee_rate, "USDT", lot)


def assert_identity(ledger: PositionLedger, mark: D) -> None:
    s = ledger.summary(mark)
    assert s.grid_profit + s.unrealized_pnl + s.funding - s.fees_not_netted == s.total_pnl
    assert s.total_pnl == s.equity - s.investment


def test_a_long_round_trip_realises_the_spread_less_both_fees() -> None:
    ledger = books()
    ledger.apply(fill(Side.BUY, "50000", "0.01", "3"))
    ledger.apply(fill(Side.SELL, "51000", "0.01", "3"))
    assert ledger.realized == D("10") - D("500") * FEE - D("510") * FEE
    assert ledger.round_trips == 1
    assert ledger.base == 0
    assert ledger.side is None
    assert_identity(ledger, D(49000))


def test_a_short_opens_with_a_sell_and_its_buy_back_realises_the_fall() -> None:
    ledger = books()
    ledger.apply(fill(Side.SELL, "51000", "0.01", "4"))
    assert ledger.base == D("-0.01")
    assert ledger.side is PositionSide.SHORT
    summary = ledger.summary(D(50000))
    assert summary.unrealized_pnl == D("10") - D("510") * FEE  # the opening fee is in its cost
    assert_identity(ledger, D(50000))
    ledger.apply(fill(Side.BUY, "50000", "0.01", "4"))
    assert ledger.realized == D("10") - D("510") * FEE - D("500") * FEE
    assert ledger.round_trips == 1
    assert ledger.gross_profit == ledger.realized


def test_a_losing_short_counts_as_a_losing_trip() -> None:
    ledger = books()
    ledger.apply(fill(Side.SELL, "50000", "0.01", "1"))
    ledger.apply(fill(Side.BUY, "51000", "0.01", "1"))
    assert ledger.realized < 0
    assert ledger.gross_loss == -ledger.realized


def test_the_starts_long_is_handed_to_the_levels_that_close_it() -> None:
    ledger = books()
    ledger.apply(fill(Side.BUY, "50000", "0.03", "start"))
    for level in ("5", "6", "7"):
        ledger.allocate("start", level, D("0.01"))
    assert ledger.base_in("start") == 0
    assert ledger.lots["start"].cost == 0
    ledger.apply(fill(Side.SELL, "51000", "0.01", "5"))
    assert ledger.round_trips == 1
    assert_identity(ledger, D(52000))


def test_a_shorts_start_is_handed_out_as_shorts() -> None:
    ledger = books()
    ledger.apply(fill(Side.SELL, "50000", "0.02", "start"))
    ledger.allocate("start", "1", D("0.01"))
    ledger.allocate("start", "2", D("0.01"))
    assert ledger.base_in("1") == D("-0.01")
    assert ledger.base_in("start") == 0
    with pytest.raises(LedgerError):
        ledger.allocate("start", "3", D("0.01"))
    ledger.apply(fill(Side.BUY, "49000", "0.01", "1"))
    assert ledger.realized == D("10") - D("1000") * FEE / 2 - D("490") * FEE
    assert_identity(ledger, D(48000))


def test_a_fill_past_flat_closes_the_lot_then_opens_the_other_side() -> None:
    ledger = books()
    ledger.apply(fill(Side.BUY, "50000", "0.01", "x", D(0)))
    ledger.apply(fill(Side.SELL, "50500", "0.03", "x", D(0)))
    assert ledger.realized == D("5")
    assert ledger.base_in("x") == D("-0.02")
    assert ledger.round_trips == 0  # the lot never rested at flat
    assert_identity(ledger, D(50000))


def test_funding_is_cash_outside_grid_profit_and_each_payment_is_booked_once() -> None:
    ledger = books()
    ledger.funding_cursor = START
    ledger.apply(fill(Side.BUY, "50000", "0.02", "2"))
    assert not ledger.book_funding("before-the-run", START - EIGHT_HOURS, D("-1.5"))
    assert ledger.book_funding("p1", START + EIGHT_HOURS, D("-0.1"))
    assert not ledger.book_funding("p1", START + EIGHT_HOURS, D("-0.1"))  # listed again
    assert ledger.book_funding("p2", START + EIGHT_HOURS, D("0.03"))  # another at the same time
    assert not ledger.book_funding("p2", START + EIGHT_HOURS, D("0.03"))
    summary = ledger.summary(D(50000))
    assert summary.funding == D("-0.07")
    assert summary.grid_profit == 0
    assert_identity(ledger, D(50000))


def test_a_liquidation_closes_everything_at_the_bankruptcy_price() -> None:
    ledger = books()
    ledger.apply(fill(Side.BUY, "50000", "0.01", "1", D(0)))
    ledger.apply(fill(Side.BUY, "49000", "0.01", "2", D(0)))
    loss = ledger.liquidate(D("45000"))
    assert loss == D("50") + D("40")
    assert ledger.base == 0
    assert ledger.summary(D(44000)).unrealized_pnl == 0
    assert_identity(ledger, D(44000))


def test_the_books_survive_the_bot_row() -> None:
    ledger = books()
    ledger.apply(fill(Side.SELL, "50000", "0.01", "1"))
    ledger.book_funding("p1", START, D("0.25"))
    ledger.bankruptcy_seen = D("55000")
    ledger.funding_checked_at = START + EIGHT_HOURS
    again = codec.ledger_from_json(codec.ledger_to_json(ledger))
    assert isinstance(again, PositionLedger)
    assert again == ledger
    assert again.summary(D(49000)) == ledger.summary(D(49000))
