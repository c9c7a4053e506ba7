"""The simulated venue's path through a candle and its fill rules (bots/backtest/venue.py). Pure."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bots.backtest.venue import Fees, SimFill, SimVenue, candle_path, check_candle
from exchanges.base import Candle, InsufficientBalance, InvalidOrder, InvalidOrderReason, Side
from exchanges.paper.instruments import INSTRUMENTS

D = Decimal
BTC = INSTRUMENTS["BTCUSDT"]
T0 = datetime(2024, 1, 1, tzinfo=UTC)


def candle(open_: str, high: str, low: str, close: str) -> Candle:
    return Candle(T0, D(open_), D(high), D(low), D(close), D(1))


def funded(quote: str = "100000", base: str = "10", fees: Fees | None = None) -> SimVenue:
    venue = SimVenue(BTC, fees or Fees(D("0.001"), D("0.002")), base=D(base), quote=D(quote))
    return venue


def at(venue: SimVenue, price: str) -> SimVenue:
    venue.begin(candle(price, price, price, price))
    return venue


def test_a_bullish_candle_whose_low_is_nearer_goes_down_first() -> None:
    assert candle_path(candle("100", "110", "95", "108")) == (D(100), D(95), D(110), D(108))


def test_a_bearish_candle_whose_high_is_nearer_goes_up_first() -> None:
    assert candle_path(candle("100", "101", "90", "91")) == (D(100), D(101), D(90), D(91))


def test_high_and_low_equally_far_go_to_the_low_first() -> None:
    assert candle_path(candle("100", "105", "95", "102")) == (D(100), D(95), D(105), D(102))


def test_a_bullish_candle_fills_the_buy_before_the_sell_and_each_on_its_leg() -> None:
    venue = at(funded(), "100")
    venue.place_limit(Side.SELL, D("106"), D("1"))
    venue.place_limit(Side.BUY, D("97"), D("1"))
    fills: list[SimFill] = []

    venue.walk(candle("100", "110", "95", "108"), fills.append)

    assert [(f.side, f.price, f.leg) for f in fills] == [(Side.BUY, D(97), 1), (Side.SELL, D(106), 2)]
    assert venue.price == D(108), "the walk ends standing at the close"


def test_a_bearish_candle_fills_the_sell_before_the_buy() -> None:
    venue = at(funded(), "100")
    venue.place_limit(Side.BUY, D("92"), D("1"))
    venue.place_limit(Side.SELL, D("100.5"), D("1"))
    fills: list[SimFill] = []

    venue.walk(candle("100", "101", "90", "91"), fills.append)

    assert [(f.side, f.price, f.leg) for f in fills] == [(Side.SELL, D("100.5"), 1), (Side.BUY, D(92), 2)]


def test_a_falling_leg_fills_the_highest_buy_first_at_its_own_price_and_a_touch_fills() -> None:
    venue = at(funded(), "100")
    for price in ("90", "98", "95"):
        venue.place_limit(Side.BUY, D(price), D("1"))
    fills: list[SimFill] = []

    venue.walk(candle("100", "100", "90", "93"), fills.append)

    assert [f.price for f in fills] == [D(98), D(95), D(90)]


def test_an_order_placed_mid_candle_never_fills_at_a_price_the_path_already_passed() -> None:
    # Path 100 -> 101 -> 90 -> 91. The buy at 95 fills on the fall; a sell at 100.5 placed then
    # was passed on the way up to 101, before the fill, and must not fill on this candle.
    venue = at(funded(), "100")
    venue.place_limit(Side.BUY, D("95"), D("1"))
    fills: list[SimFill] = []

    def counter(fill: SimFill) -> None:
        fills.append(fill)
        if fill.price == D(95):
            venue.place_limit(Side.SELL, D("100.5"), D("1"))
            venue.place_limit(Side.BUY, D("92"), D("1"))  # still ahead on the fall: it may fill

    venue.walk(candle("100", "101", "90", "91"), counter)

    assert [(f.side, f.price) for f in fills] == [(Side.BUY, D(95)), (Side.BUY, D(92))]
    assert [(o.side, o.price) for o in venue.open_orders] == [(Side.SELL, D("100.5"))]
    later: list[SimFill] = []
    venue.walk(candle("91", "101", "91", "100"), later.append)
    assert [(f.side, f.price) for f in later] == [(Side.SELL, D("100.5"))], "it fills later on the path"


def test_an_order_placed_mid_candle_on_the_passed_side_is_refused_as_post_only() -> None:
    venue = at(funded(), "100")
    venue.place_limit(Side.BUY, D("95"), D("1"))
    refused: list[InvalidOrder] = []

    def counter(fill: SimFill) -> None:
        try:
            venue.place_limit(Side.SELL, D("94"), D("1"))  # below the fill price: it would take
        except InvalidOrder as exc:
            refused.append(exc)

    venue.walk(candle("100", "100", "90", "91"), counter)

    assert [exc.reason for exc in refused] == [InvalidOrderReason.POST_ONLY_WOULD_TAKE]


def test_a_gap_past_a_resting_order_fills_it_at_its_own_price_at_the_open() -> None:
    venue = at(funded(), "100")
    venue.place_limit(Side.BUY, D("97"), D("1"))
    fills: list[SimFill] = []

    venue.walk(candle("94", "96", "93", "95"), fills.append)

    assert [(f.price, f.leg) for f in fills] == [(D(97), 0)]


def test_maker_fills_take_the_fee_in_the_asset_received() -> None:
    venue = at(funded(quote="1000", base="1"), "100")
    venue.place_limit(Side.BUY, D("90"), D("2"))
    venue.place_limit(Side.SELL, D("110"), D("1"))
    fills: list[SimFill] = []

    venue.walk(candle("100", "111", "89", "100"), fills.append)

    buy, sell = sorted(fills, key=lambda f: f.price)
    assert (buy.fee, buy.fee_asset, buy.is_maker) == (D("0.002"), "BTC", True)
    assert (sell.fee, sell.fee_asset, sell.is_maker) == (D("0.110"), "USDT", True)
    assert venue.base == D(1) + D(2) - D("0.002") - D(1)
    assert venue.quote == D(1000) - D(180) + D(110) - D("0.110")
    assert venue.base_locked == venue.quote_locked == 0


def test_a_market_order_fills_at_the_open_plus_slippage_as_taker() -> None:
    venue = funded(quote="1000", base="0")
    venue.begin(candle("100", "120", "80", "110"))

    fill = venue.market(Side.BUY, D("1"), D("100"), D("0.0025"))

    assert (fill.price, fill.is_maker, fill.fee) == (D("100.3"), False, D("0.002")), "rounded up to the tick"
    assert venue.quote == D("899.7")


def test_orders_off_the_tick_below_the_minimum_or_unfunded_are_refused() -> None:
    venue = at(funded(quote="100", base="0"), "100")
    with pytest.raises(InvalidOrder) as off_tick:
        venue.place_limit(Side.BUY, D("90.05"), D("0.5"))
    assert off_tick.value.reason is InvalidOrderReason.PRICE_PRECISION
    with pytest.raises(InvalidOrder) as too_small:
        venue.place_limit(Side.BUY, D("90"), D("0.05"))  # 4.5 USDT, under the 5 USDT minimum
    assert too_small.value.reason is InvalidOrderReason.AMOUNT_TOO_SMALL
    venue.place_limit(Side.BUY, D("90"), D("1"))
    with pytest.raises(InsufficientBalance):
        venue.place_limit(Side.BUY, D("80"), D("0.2"))  # 16 USDT with 10 left free
    with pytest.raises(InsufficientBalance):
        venue.place_limit(Side.SELL, D("110"), D("0.1"))


def test_a_malformed_candle_is_refused() -> None:
    with pytest.raises(ValueError, match="not a candle"):
        check_candle(candle("100", "99", "90", "95"))
