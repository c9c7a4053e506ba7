"""The perpetual margin arithmetic against Bybit's own published worked examples."""

from __future__ import annotations

from decimal import Decimal

import pytest

from exchanges.perpetuals.margin import (
    BTCUSDT_TIERS,
    PositionSide,
    RiskLimitExceeded,
    RiskTier,
    bankruptcy_price,
    fee_to_close,
    funding_payment,
    funding_rate,
    initial_margin,
    liquidation_price,
    maintenance_margin,
    position_margin,
    tier_for,
    tiers_from_risk_limit,
    unrealised_pnl,
)

D = Decimal
LONG = PositionSide.LONG
SHORT = PositionSide.SHORT
# The examples assume a flat maintenance margin rate of 0.5% (no deduction).
FLAT_HALF_PERCENT = (RiskTier(D("100000000"), D("0.005"), D("0.01"), D("0"), D("100")),)


def test_liquidation_long_legacy_example():
    """Bybit "Liquidation Price (USDT Contract)": 1 BTC long at 10,000 USDT, 50x, MMR 0.5% ->
    10,000 x (1 - 2% + 0.5%) = 9,850."""
    assert liquidation_price(LONG, D("10000"), D("1"), FLAT_HALF_PERCENT, leverage=D("50")) == D("9850")


def test_liquidation_short_legacy_example():
    """Same article: 1 BTC short at 8,000 USDT, 40x -> 8,000 x (1 + 2.5% - 0.5%) = 8,160."""
    assert liquidation_price(SHORT, D("8000"), D("1"), FLAT_HALF_PERCENT, leverage=D("40")) == D("8160")


def test_liquidation_long_uta_example():
    """Bybit "Liquidation Price (USDT Contract)", isolated, current wording: 1 BTC long at 20,000, 50x:
    IM 400, MM 100 -> 20,000 - (400 - 100) / 1 = 19,700."""
    assert maintenance_margin(D("20000"), FLAT_HALF_PERCENT) == D("100")
    assert initial_margin(D("20000"), D("50")) == D("400")
    assert liquidation_price(LONG, D("20000"), D("1"), FLAT_HALF_PERCENT, leverage=D("50")) == D("19700")


def test_liquidation_short_with_added_margin_example():
    """Same article: the short at 20,000, 50x with 3,000 USDT added -> 20,000 + 300 + 3,000 = 23,300."""
    margin = D("400") + D("3000")
    assert liquidation_price(SHORT, D("20000"), D("1"), FLAT_HALF_PERCENT, margin=margin) == D("23300")


def test_liquidation_after_funding_paid_example():
    """Same article: the long's 400 USDT margin less 200 USDT of funding -> 20,000 - (200 - 100) = 19,900."""
    assert liquidation_price(LONG, D("20000"), D("1"), FLAT_HALF_PERCENT, margin=D("200")) == D("19900")


def test_bankruptcy_example():
    """Bybit "Bankruptcy Price (USDT Contract)": 1 BTC long at 10,000 USDT, 50x ->
    10,000 x (1 - 2%) = 9,800."""
    assert bankruptcy_price(LONG, D("10000"), D("1"), leverage=D("50")) == D("9800")
    assert bankruptcy_price(SHORT, D("10000"), D("1"), leverage=D("50")) == D("10200")


def test_liquidation_lies_between_entry_and_bankruptcy_on_both_sides():
    entry, size, lev = D("30000"), D("0.5"), D("20")
    for side in (LONG, SHORT):
        liq = liquidation_price(side, entry, size, BTCUSDT_TIERS, leverage=lev)
        bust = bankruptcy_price(side, entry, size, leverage=lev)
        if side is LONG:
            assert bust < liq < entry
        else:
            assert entry < liq < bust


def test_fee_to_close_is_reserved_but_does_not_move_a_fresh_liquidation_price():
    """Bybit's "Order Cost": fee to close = size x bankruptcy price x taker fee; 1 BTC long at 10,000, 50x,
    0.055% taker -> 9,800 x 0.00055 = 5.39. The reserve sits in both the margin and the maintenance
    margin, so the liquidation price of the margin that holds it is the leverage one (to rounding)."""
    fee = D("0.00055")
    assert fee_to_close(LONG, D("10000"), D("1"), D("50"), fee) == D("5.39")
    margin = position_margin(LONG, D("10000"), D("1"), D("50"), fee)
    assert margin == D("205.39")
    by_margin = liquidation_price(LONG, D("10000"), D("1"), FLAT_HALF_PERCENT, margin=margin, fee_rate=fee)
    assert abs(by_margin - D("9850")) <= D("0.00000002")
    bust = bankruptcy_price(LONG, D("10000"), D("1"), margin=margin, fee_rate=fee)
    assert abs(bust - D("9800")) <= D("1e-8")
    short_margin = position_margin(SHORT, D("10000"), D("1"), D("50"), fee)
    assert short_margin == D("200") + D("5.61")
    by_margin = liquidation_price(
        SHORT, D("10000"), D("1"), FLAT_HALF_PERCENT, margin=short_margin, fee_rate=fee
    )
    assert abs(by_margin - D("10150")) <= D("0.00000002")


def test_tier_boundaries_and_deduction_keep_maintenance_continuous():
    """BTCUSDT's recorded tiers: a value on a limit stays in the lower tier, and the deduction makes the
    maintenance margin the same on both sides of the boundary."""
    assert tier_for(D("300000"), BTCUSDT_TIERS).maintenance_rate == D("0.0033")
    assert tier_for(D("300000.01"), BTCUSDT_TIERS).maintenance_rate == D("0.005")
    assert maintenance_margin(D("300000"), BTCUSDT_TIERS) == D("990")  # 300,000 x 0.33%
    assert maintenance_margin(D("300000.01"), BTCUSDT_TIERS) == D("990.00005")  # x 0.5% - 510
    assert maintenance_margin(D("2000000"), BTCUSDT_TIERS) == D("9490")
    assert maintenance_margin(D("2000001"), BTCUSDT_TIERS) == D("9490.0056")  # x 0.56% - 1,710
    with pytest.raises(RiskLimitExceeded):
        tier_for(D("2600000.01"), BTCUSDT_TIERS)


def test_liquidation_uses_the_tier_of_the_position_value():
    """A 10 BTC long at 50,000 (500,000 USDT) is in the 0.5% tier with its 510 deduction:
    MM = 2,500 - 510 = 1,990; IM at 10x = 50,000 -> 50,000 - (50,000 - 1,990) / 10 = 45,199."""
    assert liquidation_price(LONG, D("50000"), D("10"), BTCUSDT_TIERS, leverage=D("10")) == D("45199")


def test_tiers_from_a_risk_limit_answer():
    rows = [
        {
            "id": 2,
            "riskLimitValue": "2000000",
            "maintenanceMargin": "0.005",
            "initialMargin": "0.01",
            "maxLeverage": "100.00",
            "mmDeduction": "510",
        },
        {
            "id": 1,
            "riskLimitValue": "300000",
            "maintenanceMargin": "0.0033",
            "initialMargin": "0.0066",
            "maxLeverage": "150.00",
            "mmDeduction": "",
        },
    ]
    assert tiers_from_risk_limit(rows) == BTCUSDT_TIERS[:2]


def test_rounding_is_towards_safety():
    # 1/3 leverage slices: margin rounds up, a long's liquidation price rounds up, a short's down.
    assert initial_margin(D("100"), D("3")) == D("33.33333334")
    long_liq = liquidation_price(LONG, D("100"), D("3"), FLAT_HALF_PERCENT, leverage=D("7"))
    short_liq = liquidation_price(SHORT, D("100"), D("3"), FLAT_HALF_PERCENT, leverage=D("7"))
    assert long_liq == D("86.21428572")  # 100 x (1 - 1/7 + 0.005) = 86.2142857142...
    assert short_liq == D("113.78571428")


def test_funding_rate_formula():
    """Bybit: F = P + clamp(I - P, -0.05%, 0.05%), I = 0.01% per 8 hours."""
    assert funding_rate(D("0.0003")) == D("0.0001")  # the clamp pulls a small premium back to the interest
    assert funding_rate(D("-0.0003")) == D("0.0001")
    assert funding_rate(D("0.001")) == D("0.0005")  # 0.1% + (-0.05%)
    assert funding_rate(D("-0.001")) == D("-0.0005")  # -0.1% + 0.05%
    assert funding_rate(D("0.01"), cap=D("0.00375")) == D("0.00375")
    assert funding_rate(D("-0.01"), cap=D("0.00375")) == D("-0.00375")


def test_funding_payment_signs():
    """Funding fee = position value x rate; longs pay shorts when it is positive."""
    value = D("20000")
    assert funding_payment(value, D("0.0001"), LONG) == D("-2")
    assert funding_payment(value, D("0.0001"), SHORT) == D("2")
    assert funding_payment(value, D("-0.0001"), LONG) == D("2")
    assert funding_payment(value, D("-0.0001"), SHORT) == D("-2")
    # A payment rounds up in size, a receipt down.
    assert funding_payment(D("1"), D("0.000000015"), LONG) == D("-0.00000002")
    assert funding_payment(D("1"), D("0.000000015"), SHORT) == D("0.00000001")


def test_unrealised_pnl_signs():
    assert unrealised_pnl(LONG, D("100"), D("2"), D("110")) == D("20")
    assert unrealised_pnl(SHORT, D("100"), D("2"), D("110")) == D("-20")


def test_bad_arguments_are_refused():
    with pytest.raises(ValueError, match="either"):
        liquidation_price(LONG, D("1"), D("1"), FLAT_HALF_PERCENT)
    with pytest.raises(ValueError, match="either"):
        bankruptcy_price(LONG, D("1"), D("1"), leverage=D("2"), margin=D("1"))
    with pytest.raises(ValueError, match="Leverage"):
        initial_margin(D("1"), D("0"))
