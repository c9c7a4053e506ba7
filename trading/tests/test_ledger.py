"""The ledger, by hand-computed examples and by property over random fills."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from exchanges.base import Side
from trading.ledger import START_LOT, Ledger, LedgerError, LedgerFill

D = Decimal
FEE = D("0.001")


def buy(quantity: str, price: str, lot: str = "2") -> LedgerFill:
    q, p = D(quantity), D(price)
    return LedgerFill(Side.BUY, p, q, q * FEE, "BTC", lot)


def sell(quantity: str, price: str, lot: str = "2", completes: bool = True) -> LedgerFill:
    q, p = D(quantity), D(price)
    return LedgerFill(Side.SELL, p, q, q * p * FEE, "USDT", lot, completes_round_trip=completes)


def test_a_round_trip_realises_the_published_formula() -> None:
    ledger = Ledger("BTC", "USDT", D("1000"))
    ledger.apply(buy("0.01", "53000"))
    ledger.apply(sell("0.00999", "57000"))

    expected = D("0.00999") * D("57000") * (1 - FEE) - D("0.01") * D("53000")
    assert ledger.realized == expected == D("38.86057")
    summary = ledger.summary(D("55000"))
    assert summary.round_trips == 1
    assert (summary.buys, summary.sells) == (1, 1)
    assert summary.base_held == D("0.00000")  # 0.01 - 0.00001 fee - 0.00999 sold
    assert summary.unrealized_pnl == 0
    assert summary.fees_by_asset == {"BTC": D("0.00001"), "USDT": D("0.56943")}
    assert summary.total_pnl == summary.equity - summary.investment == expected


def test_dust_below_the_lot_step_is_charged_to_the_trip_and_kept_at_zero_cost() -> None:
    ledger = Ledger("BTC", "USDT", D("1000"))
    ledger.apply(buy("0.0123", "50000"))  # nets 0.0122877 BTC
    ledger.apply(sell("0.012287", "52000"))
    assert ledger.realized == D("0.012287") * 52000 * (1 - FEE) - D("0.0123") * 50000
    assert ledger.base == D("0.0000007")
    assert ledger.cost == 0
    assert ledger.unrealized(D("60000")) == D("0.0000007") * 60000


def test_start_lot_and_grid_lots_are_separate() -> None:
    ledger = Ledger("BTC", "USDT", D("1000"))
    ledger.apply(buy("0.008", "54000", lot=START_LOT))
    ledger.apply(buy("0.004", "53000", lot="2"))
    assert ledger.base_in(START_LOT) == D("0.008") * (1 - FEE)
    with pytest.raises(LedgerError):
        ledger.apply(sell("0.005", "57000", lot="2"))  # lot 2 holds only 0.003996


def test_a_fee_in_a_third_asset_needs_its_quote_value_and_counts_against_equity() -> None:
    ledger = Ledger("BTC", "USDT", D("1000"))
    with pytest.raises(LedgerError):
        ledger.apply(LedgerFill(Side.BUY, D("50000"), D("0.01"), D("0.3"), "MNT", "1"))
    ledger.apply(LedgerFill(Side.BUY, D("50000"), D("0.01"), D("0.3"), "MNT", "1", fee_quote_value=D("0.24")))
    summary = ledger.summary(D("50000"))
    assert summary.fees_not_netted == D("0.24")
    assert summary.equity == D("1000") - D("0.24")
    assert summary.grid_profit + summary.unrealized_pnl - summary.fees_not_netted == summary.total_pnl


def test_apr_needs_at_least_an_hour_and_scales_roi_to_a_year() -> None:
    ledger = Ledger("BTC", "USDT", D("1000"))
    ledger.apply(buy("0.01", "53000"))
    ledger.apply(sell("0.00999", "57000"))
    assert ledger.summary(D("55000"), running_for=timedelta(minutes=30)).apr is None
    day = ledger.summary(D("55000"), running_for=timedelta(days=1))
    assert day.apr == day.roi * 365


def test_profit_factor_is_gross_profit_over_gross_loss() -> None:
    ledger = Ledger("BTC", "USDT", D("10000"))
    ledger.apply(buy("0.01", "50000", lot="1"))
    ledger.apply(sell("0.00999", "55000", lot="1"))
    ledger.apply(buy("0.01", "50000", lot="2"))
    ledger.apply(sell("0.00999", "48000", lot="2"))
    summary = ledger.summary(D("50000"))
    assert summary.round_trips == 2
    win = D("0.00999") * 55000 * (1 - FEE) - 500
    loss = 500 - D("0.00999") * 48000 * (1 - FEE)
    assert summary.profit_factor == win / loss


# Property: the invariant against an independent recomputation -------------------

fee_assets = st.sampled_from(["BTC", "USDT", "MNT"])
prices = st.integers(min_value=1_000, max_value=100_000).map(lambda n: D(n) / 10)
quantities = st.integers(min_value=1, max_value=50_000).map(lambda n: D(n) / 1_000_000)


@st.composite
def fill_sequences(draw: st.DrawFn) -> list[tuple[str, Decimal, Decimal, str, str, bool]]:
    steps = draw(
        st.lists(st.tuples(st.booleans(), prices, quantities, fee_assets, st.integers(0, 3)), max_size=40)
    )
    held: dict[str, Decimal] = {}
    fills = []
    for is_buy, price, quantity, fee_asset, lot_number in steps:
        lot = str(lot_number)
        if is_buy:
            fills.append(("buy", price, quantity, fee_asset, lot, False))
            held[lot] = held.get(lot, D(0)) + quantity - (quantity * FEE if fee_asset == "BTC" else 0)
        else:
            available = held.get(lot, D(0))
            sell_quantity = min(quantity, available / (1 + FEE))
            sell_quantity = sell_quantity.quantize(D("0.000001"), rounding="ROUND_DOWN")
            if sell_quantity <= 0:
                continue
            fills.append(("sell", price, sell_quantity, fee_asset, lot, draw(st.booleans())))
            held[lot] = available - sell_quantity - (sell_quantity * FEE if fee_asset == "BTC" else 0)
    return fills


@settings(max_examples=300, deadline=None, derandomize=True)
@given(fill_sequences(), prices)
def test_grid_profit_plus_unrealised_equals_equity_minus_investment(fills: list, mark: Decimal) -> None:
    investment = D("5000")
    ledger = Ledger("BTC", "USDT", investment)
    quote, base, third_asset_fees = investment, D(0), D(0)
    for side, price, quantity, fee_asset, lot, completes in fills:
        notional = quantity * price
        fee = quantity * FEE if fee_asset == "BTC" else notional * FEE
        fee_value = notional * FEE if fee_asset == "MNT" else None
        ledger.apply(
            LedgerFill(Side(side), price, quantity, fee, fee_asset, lot, completes, fee_quote_value=fee_value)
        )
        base_fee = fee if fee_asset == "BTC" else D(0)
        quote_fee = fee if fee_asset == "USDT" else D(0)
        third_asset_fees += fee_value or D(0)
        if side == "buy":
            quote -= notional + quote_fee
            base += quantity - base_fee
        else:
            quote += notional - quote_fee
            base -= quantity + base_fee
    independent_equity = quote + base * mark - third_asset_fees
    summary = ledger.summary(mark)
    assert summary.equity == independent_equity
    assert (
        summary.grid_profit + summary.unrealized_pnl - summary.fees_not_netted
        == independent_equity - investment
    )
    assert summary.base_held == base


def test_allocating_start_base_to_grid_lots_keeps_the_books_exact() -> None:
    ledger = Ledger("BTC", "USDT", D("1000"))
    ledger.apply(buy("0.007", "54000", lot=START_LOT))
    before = ledger.summary(D("56000"))
    ledger.allocate(START_LOT, "3", D("0.003"))
    ledger.allocate(START_LOT, "4", D("0.003"))
    after = ledger.summary(D("56000"))
    assert (after.equity, after.unrealized_pnl, after.grid_profit) == (
        before.equity,
        before.unrealized_pnl,
        before.grid_profit,
    )
    assert ledger.base_in("3") == ledger.base_in("4") == D("0.003")
    with pytest.raises(LedgerError):
        ledger.allocate(START_LOT, "5", D("0.003"))
    ledger.apply(sell("0.003", "61000", lot="3"))
    assert ledger.round_trips == 1
    assert ledger.realized == D("0.003") * 61000 * (1 - FEE) - ledger_cost_share(
        D("0.007"), D("54000"), D("0.003")
    )


def ledger_cost_share(bought: Decimal, price: Decimal, share: Decimal) -> Decimal:
    net = bought * (1 - FEE)
    return (bought * price * share / net).quantize(D("1e-18"))


def test_a_reverse_grid_buy_back_keeps_its_cost_and_the_next_sell_realises_against_it() -> None:
    """A reverse grid's trip ends with the buy-back; the base it buys is inventory, not dust."""
    ledger = Ledger("BTC", "USDT", D("1000"))
    ledger.open_position("1", D("0.01"), D("50000"))  # committed base, held at the start price
    ledger.apply(sell("0.01", "51000", lot="1", completes=False))
    first_sell = D("0.01") * 51000 * (1 - FEE) - D("0.01") * 50000
    assert ledger.realized == first_sell

    buy_back = LedgerFill(Side.BUY, D("50000"), D("0.010189"), D("0.010189") * FEE, "BTC", "1", True)
    ledger.apply(buy_back)
    assert ledger.round_trips == 1
    assert ledger.realized == first_sell, "buying back realises nothing"
    assert ledger.cost == D("0.010189") * 50000, "the bought base keeps its cost"
    assert ledger.unrealized(D("50000")) == -D("0.010189") * FEE * 50000  # only the fee, as a mark-down
    summary = ledger.summary(D("50000"))
    assert summary.grid_profit + summary.unrealized_pnl == summary.equity - summary.investment

    ledger.apply(sell("0.01", "51000", lot="1", completes=False))
    net = D("0.010189") * (1 - FEE)
    assert ledger.realized == first_sell + D("0.01") * 51000 * (1 - FEE) - (
        D("0.010189") * 50000 * D("0.01") / net
    ).quantize(D("1e-18"))
