"""USDT perpetuals on the DB-backed paper venue: margin, reduce-only, leverage, mode, funding, liquidation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from exchanges.base import (
    InstrumentKind,
    InsufficientBalance,
    InvalidOrder,
    InvalidOrderReason,
    LeverageRejected,
    OrderNotFound,
    OrderRequest,
    OrderStatus,
    OrderType,
    PositionModeLocked,
    PositionSide,
    Side,
)
from exchanges.paper import market, perpetual
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.models import PaperFundingRate, PaperPosition
from exchanges.paper.service import open_paper_account

pytestmark = pytest.mark.django_db

D = Decimal
LINEAR = InstrumentKind.LINEAR


@pytest.fixture
def paper() -> PaperExchange:
    market.set_price("BTCUSDT", D("20000"))
    return PaperExchange(open_paper_account("perp", {"USDT": D("10000")}))


def order(
    side: Side, quantity: str, price: str | None, client_id: str, *, reduce_only: bool = False
) -> OrderRequest:
    kind = OrderType.LIMIT if price is not None else OrderType.MARKET
    return OrderRequest(
        "BTCUSDT",
        side,
        kind,
        D(quantity),
        client_id,
        D(price) if price is not None else None,
        kind=LINEAR,
        reduce_only=reduce_only,
    )


def usdt(paper: PaperExchange) -> tuple[Decimal, Decimal]:
    balance = paper.balances()["USDT"]
    return balance.free, balance.locked


def open_long(paper: PaperExchange) -> None:
    """0.1 BTC long at 20,000, 10x, taken: IM 200 + fee to close 0.1 x 18,000 x 0.055% = 0.99; fee 1.1."""
    paper.set_leverage("BTCUSDT", D("10"))
    paper.place_order(order(Side.BUY, "0.1", "20000", "open"))


def test_opening_a_long_moves_margin_and_pays_the_taker_fee(paper: PaperExchange) -> None:
    open_long(paper)

    assert usdt(paper) == (D("10000") - D("200.99") - D("1.1"), D("200.99"))
    (position,) = paper.positions()
    assert (position.side, position.size, position.entry_price, position.leverage) == (
        PositionSide.LONG,
        D("0.1"),
        D("20000"),
        D("10"),
    )
    assert position.position_margin == D("200.99")
    assert position.bankruptcy_price == D("18000")
    # 20,000 - (200.99 - 0.99 - 2,000 x 0.33%) / 0.1
    assert position.liquidation_price == D("18066")
    assert position.realised_pnl == D("-1.1")
    assert paper.balances().get("BTC") is None or paper.balances()["BTC"].total == 0  # no spot BTC appears


def test_a_resting_order_reserves_its_cost_and_gives_it_back_on_cancel(paper: PaperExchange) -> None:
    paper.set_leverage("BTCUSDT", D("5"))
    paper.place_order(order(Side.BUY, "0.1", "19000", "rest"))
    # IM 1,900 / 5 = 380 + the taker fee twice: 2 x 1.045
    assert usdt(paper) == (D("10000") - D("382.09"), D("382.09"))

    paper.cancel_order("BTCUSDT", client_order_id="rest", kind=LINEAR)

    assert usdt(paper) == (D("10000"), D("0"))
    assert paper.positions() == []


def test_a_reduce_only_close_realises_the_profit(paper: PaperExchange) -> None:
    open_long(paper)
    paper.place_order(order(Side.SELL, "0.1", "21000", "close", reduce_only=True))
    assert usdt(paper)[1] == D("200.99")  # reduce-only reserves nothing

    market.set_price("BTCUSDT", D("21000"))

    assert paper.order("BTCUSDT", "close", kind=LINEAR).status is OrderStatus.FILLED
    (position,) = paper.positions("BTCUSDT")
    assert position.is_flat
    assert position.side is None
    # +100 profit, maker fee 0.1 x 21,000 x 0.02% = 0.42, after the 1.1 to open
    assert position.realised_pnl == D("98.48")
    assert usdt(paper) == (D("10098.48"), D("0"))


@pytest.mark.parametrize(
    ("setup", "side", "quantity", "message"),
    [
        (False, Side.SELL, "0.1", "no BTCUSDT position"),
        (True, Side.BUY, "0.1", "would add to the long position"),
        (True, Side.SELL, "0.2", "larger than the 0.1 long position"),
    ],
)
def test_reduce_only_can_only_reduce(
    paper: PaperExchange, setup: bool, side: Side, quantity: str, message: str
) -> None:
    if setup:
        open_long(paper)
    with pytest.raises(InvalidOrder, match=message) as refused:
        paper.place_order(order(side, quantity, None, "ro", reduce_only=True))
    assert refused.value.reason is InvalidOrderReason.REDUCE_ONLY


def test_a_resting_reduce_only_order_is_cancelled_when_the_position_is_gone(paper: PaperExchange) -> None:
    open_long(paper)
    paper.place_order(order(Side.SELL, "0.1", "21000", "tp", reduce_only=True))
    paper.place_order(order(Side.SELL, "0.1", "20000", "flat"))  # closes the long at once

    fills = market.set_price("BTCUSDT", D("21000"))

    assert fills == []
    assert paper.order("BTCUSDT", "tp", kind=LINEAR).status is OrderStatus.CANCELLED
    assert paper.positions() == []


def test_a_sell_past_the_long_flips_to_a_short(paper: PaperExchange) -> None:
    open_long(paper)
    paper.place_order(order(Side.SELL, "0.3", "20000", "flip"))

    (position,) = paper.positions()
    assert (position.side, position.size, position.entry_price) == (PositionSide.SHORT, D("0.2"), D("20000"))
    market.set_price("BTCUSDT", D("19000"))
    assert paper.positions()[0].unrealised_pnl == D("200")  # a short gains as the price falls


def test_leverage_is_idempotent_bounded_and_resizes_an_open_position(paper: PaperExchange) -> None:
    open_long(paper)
    paper.set_leverage("BTCUSDT", D("10"))  # already in force: fine
    for wrong in ("0.5", "101", "2.005"):
        with pytest.raises(LeverageRejected, match="between 1x and 100x"):
            paper.set_leverage("BTCUSDT", D(wrong))

    paper.set_leverage("BTCUSDT", D("5"))

    (position,) = paper.positions()
    # IM 400 + fee to close 0.1 x 16,000 x 0.055% = 0.88
    assert position.position_margin == D("400.88")
    assert usdt(paper) == (D("10000") - D("1.1") - D("400.88"), D("400.88"))
    assert position.liquidation_price == D("16066")


def test_lowering_leverage_needs_the_margin_to_be_free(paper: PaperExchange) -> None:
    paper.set_leverage("BTCUSDT", D("100"))
    paper.place_order(order(Side.BUY, "4.9", "20000", "big"))  # 98,000 USDT of BTC on 980 of margin

    with pytest.raises(InsufficientBalance, match="more margin"):
        paper.set_leverage("BTCUSDT", D("1"))
    assert paper.positions()[0].leverage == D("100")


def test_position_mode_is_one_way_and_cannot_change_with_orders_open(paper: PaperExchange) -> None:
    paper.set_one_way_mode("BTCUSDT")  # already one-way: fine
    paper.place_order(order(Side.BUY, "0.1", "19000", "rest"))

    with pytest.raises(PositionModeLocked, match="Cancel the open BTCUSDT orders"):
        perpetual.set_hedge_mode(paper.account.pk, "BTCUSDT", hedge=True)

    paper.cancel_order("BTCUSDT", client_order_id="rest", kind=LINEAR)
    assert perpetual.set_hedge_mode(paper.account.pk, "BTCUSDT", hedge=True) is True
    with pytest.raises(InvalidOrder, match="one-way mode only"):
        paper.place_order(order(Side.BUY, "0.1", "19000", "hedged"))
    paper.set_one_way_mode("BTCUSDT")
    assert PaperPosition.objects.get(account=paper.account).hedge_mode is False


def test_not_enough_margin_is_refused(paper: PaperExchange) -> None:
    paper.set_leverage("BTCUSDT", D("2"))
    with pytest.raises(InsufficientBalance, match="USDT of margin"):
        paper.place_order(order(Side.BUY, "1", "20000", "huge"))
    assert usdt(paper) == (D("10000"), D("0"))


def next_funding_time(after: datetime) -> datetime:
    return perpetual.funding_times(after, after + timedelta(hours=8))[0]


def test_funding_is_paid_by_longs_to_shorts_at_the_next_funding_time(paper: PaperExchange) -> None:
    shorter = PaperExchange(open_paper_account("short", {"USDT": D("10000")}))
    open_long(paper)
    shorter.place_order(order(Side.SELL, "0.1", "20000", "short"))
    moment = next_funding_time(timezone.now())
    assert moment.hour in (0, 8, 16)
    assert (moment.minute, moment.second) == (0, 0)

    market.set_price("BTCUSDT", D("20000"), at=moment - timedelta(seconds=1))
    assert paper.positions()[0].funding == 0  # not yet due
    market.set_price("BTCUSDT", D("21000"), at=moment + timedelta(seconds=5))

    # 0.1 x 21,000 (the mark at the first price after the funding time) x 0.01%
    assert paper.positions()[0].funding == D("-0.21")
    assert shorter.positions()[0].funding == D("0.21")
    assert usdt(paper)[0] == D("10000") - D("200.99") - D("1.1") - D("0.21")
    assert paper.funding_history("BTCUSDT") == [
        type(paper.funding_history("BTCUSDT")[0])(symbol="BTCUSDT", rate=D("0.0001"), time=moment)
    ]
    # The next move inside the same interval pays nothing more.
    market.set_price("BTCUSDT", D("21000"), at=moment + timedelta(hours=1))
    assert paper.positions()[0].funding == D("-0.21")
    assert PaperFundingRate.objects.count() == 1


def test_funding_times_are_the_eight_hour_marks() -> None:
    start = datetime(2026, 1, 1, 7, 59, tzinfo=UTC)
    assert perpetual.funding_times(start, datetime(2026, 1, 2, 0, 0, tzinfo=UTC)) == [
        datetime(2026, 1, 1, 8, tzinfo=UTC),
        datetime(2026, 1, 1, 16, tzinfo=UTC),
        datetime(2026, 1, 2, 0, tzinfo=UTC),
    ]
    assert (
        perpetual.funding_times(datetime(2026, 1, 1, 8, tzinfo=UTC), datetime(2026, 1, 1, 15, tzinfo=UTC))
        == []
    )
    year = perpetual.funding_times(start, start + timedelta(days=365))
    assert len(year) == perpetual.MAX_FUNDING_CATCH_UP
    assert year[-1] == datetime(2027, 1, 1, 0, tzinfo=UTC)


def test_liquidation_closes_at_bankruptcy_and_takes_the_whole_margin(paper: PaperExchange) -> None:
    open_long(paper)
    paper.place_order(order(Side.BUY, "0.1", "15000", "dip"))  # an open order, reserved
    free_before, _ = usdt(paper)

    market.set_price("BTCUSDT", D("18067"))  # one above the liquidation price: still open
    assert paper.positions()[0].size == D("0.1")

    market.set_price("BTCUSDT", D("18500"), low=D("18066"))  # the candle's low reached 18,066

    (position,) = paper.positions("BTCUSDT")
    assert position.is_flat
    assert position.realised_pnl == D("-1.1") - D("200.99")
    assert paper.order("BTCUSDT", "dip", kind=LINEAR).status is OrderStatus.CANCELLED
    # The margin is gone; the dip order's reserve came back.
    assert usdt(paper) == (free_before + D("151.65"), D("0"))


def test_a_short_is_liquidated_when_the_mark_rises(paper: PaperExchange) -> None:
    paper.set_leverage("BTCUSDT", D("20"))
    paper.place_order(order(Side.SELL, "0.5", "20000", "short"))
    liq = paper.positions()[0].liquidation_price
    assert liq is not None
    assert liq > D("20000")

    market.set_price("BTCUSDT", liq)

    assert paper.positions() == []
    assert usdt(paper)[1] == 0


def test_spot_and_perpetual_orders_keep_apart(paper: PaperExchange) -> None:
    spot = OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, D("0.01"), "spot", D("20000"))
    paper.place_order(spot)
    open_long(paper)

    assert paper.balances()["BTC"].free == D("0.01") - D("0.00001")  # spot fee in the asset received
    assert paper.positions()[0].size == D("0.1")
    with pytest.raises(InvalidOrder, match="no ETHUSDT perpetual"):
        paper.place_order(OrderRequest("ETHUSDT", Side.BUY, OrderType.MARKET, D("1"), "eth", kind=LINEAR))


def test_adding_averages_the_entry_and_partial_closes_keep_every_cent(paper: PaperExchange) -> None:
    open_long(paper)
    market.set_price("BTCUSDT", D("21000"))
    paper.place_order(order(Side.BUY, "0.2", "21000", "add"))

    (position,) = paper.positions()
    # (0.1 x 20,000 + 0.2 x 21,000) / 0.3, the cut rounding a long's entry up
    assert position.entry_price == D("20666.666666666666666667")
    # 200.99 + (420 + 0.2 x 18,900 x 0.055%)
    assert position.position_margin == D("623.069")

    market.set_price("BTCUSDT", D("22000"))
    paper.place_order(order(Side.SELL, "0.1", "22000", "part", reduce_only=True))
    assert paper.positions()[0].position_margin == D("623.069") - D("207.689666666666666666")
    paper.place_order(order(Side.SELL, "0.2", "22000", "rest", reduce_only=True))

    (flat,) = paper.positions("BTCUSDT")
    assert flat.is_flat
    free, locked = usdt(paper)
    assert locked == 0
    assert free == D("10000") + flat.realised_pnl  # nothing lost or made up in the books


def test_spot_and_perpetual_orders_and_fills_are_listed_apart(paper: PaperExchange):
    paper.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, D("0.001"), "spot-rest", D("19000")))
    paper.place_order(OrderRequest("BTCUSDT", Side.BUY, OrderType.MARKET, D("0.001"), "spot-taken"))
    paper.place_order(order(Side.BUY, "0.01", "19000", "perp-rest"))
    paper.place_order(order(Side.BUY, "0.01", None, "perp-taken"))

    assert [state.client_order_id for state in paper.open_orders()] == ["spot-rest"]
    assert [state.client_order_id for state in paper.open_orders("BTCUSDT", kind=LINEAR)] == ["perp-rest"]
    assert [fill.client_order_id for fill in paper.fills_since("BTCUSDT", None)] == ["spot-taken"]
    assert [fill.client_order_id for fill in paper.fills_since("BTCUSDT", None, kind=LINEAR)] == [
        "perp-taken"
    ]
    assert [state.client_order_id for state in paper.order_history("BTCUSDT")] == ["spot-taken"]
    assert [state.client_order_id for state in paper.order_history("BTCUSDT", kind=LINEAR)] == ["perp-taken"]
    with pytest.raises(OrderNotFound):
        paper.order("BTCUSDT", "perp-rest")
    with pytest.raises(OrderNotFound):
        paper.cancel_order("BTCUSDT", client_order_id="spot-rest", kind=LINEAR)

    assert paper.cancel_all_orders("BTCUSDT") == ["spot-rest"]
    assert [state.client_order_id for state in paper.open_orders(kind=LINEAR)] == ["perp-rest"]
    assert paper.cancel_all_orders("BTCUSDT", kind=LINEAR) == ["perp-rest"]
    assert paper.open_orders(kind=LINEAR) == []
