"""DCA through the backtester's exact mode (the same strategy methods as live), its deal
metrics, and agreement with a live replay of the same prices on the paper exchange."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from accounts.models import User
from bots.backtest import exact
from bots.backtest.deals import deal_metrics
from bots.strategies import dca
from bots.tests.test_dca_engine import CONFIG, dca_bot, tick
from exchanges.base import Candle
from exchanges.paper import market
from exchanges.paper.instruments import INSTRUMENTS

D = Decimal
BTC = INSTRUMENTS["BTCUSDT"]
T0 = datetime(2024, 1, 1, tzinfo=UTC)
STEP = timedelta(minutes=5)
# One price per candle: down through two safety orders, up through the take-profit (deal 1),
# then down through one safety order and still open at the end (deal 2).
PRICES = ["54000", "53800", "53400", "52800", "53500", "54300", "53500", "53700", "53600"]


def flat_candles(prices: list[str]) -> list[Candle]:
    return [Candle(T0 + i * STEP, D(p), D(p), D(p), D(p), D(1)) for i, p in enumerate(prices)]


def test_exact_mode_runs_dca_deals_and_reports_their_metrics() -> None:
    config = replace(CONFIG, max_deals=2)
    result = exact.run(config, BTC, flat_candles(PRICES), strategy="dca")  # type: ignore[arg-type]
    state = result.state
    assert isinstance(state, dca.DcaState)
    [deal] = state.history
    assert (state.deal, state.phase, state.safety_filled) == (2, dca.Phase.OPEN, 1)
    assert deal.reason is dca.CloseReason.TAKE_PROFIT
    assert deal.safety_orders_used == 2
    assert deal.profit > 0
    metrics = deal_metrics(result)
    assert metrics.deals_closed == 1
    assert metrics.max_safety_orders_used == 2
    assert metrics.max_duration == metrics.average_duration == 5 * STEP  # opened at 0, closed at 5
    assert metrics.open_deal
    assert metrics.open_unrealized == result.unrealized < 0
    assert metrics.max_floating_drawdown > 0
    assert result.summary.round_trips == 1
    assert result.investment == dca.max_funds(config)


def test_the_backtest_agrees_with_a_live_replay(trader: User) -> None:
    config = replace(CONFIG, max_deals=2)
    backtest = exact.run(config, BTC, flat_candles(PRICES), strategy="dca").state  # type: ignore[arg-type]
    bot = dca_bot(trader, config)
    live = tick(bot, 3)
    for price in PRICES[1:]:
        market.set_price("BTCUSDT", D(price))
        live = tick(bot, 2)  # book the fills; a market order a decision sent is booked next
    assert [(d.reason, d.safety_orders_used) for d in live.history] == [
        (d.reason, d.safety_orders_used) for d in backtest.history
    ]
    assert (live.deal, live.phase, live.safety_filled) == (
        backtest.deal,
        backtest.phase,
        backtest.safety_filled,
    )
    # The paper venue fills a market order at its ask after the tick; the backtest where the path
    # stands when the decision is made (deal 2's base order: at the take-profit's price). Profits
    # differ by that much only.
    assert abs(live.history[0].profit - backtest.history[0].profit) < D("0.2")


def test_exact_mode_rests_a_limit_base_order_until_the_price_comes() -> None:
    config = replace(CONFIG, base_order_type=dca.BaseOrderType.LIMIT, max_deals=1)
    waiting = exact.run(config, BTC, flat_candles(["54000", "54100", "54200"]), strategy="dca")  # type: ignore[arg-type]
    assert isinstance(waiting.state, dca.DcaState)
    assert waiting.state.phase is dca.Phase.OPENING  # the price never came back to it
    filled = exact.run(config, BTC, flat_candles(["54000", "54100", "53900", "54000"]), strategy="dca")  # type: ignore[arg-type]
    assert isinstance(filled.state, dca.DcaState)
    assert filled.state.phase is dca.Phase.OPEN
    assert filled.state.reference_price == D(54000) - BTC.tick_size  # filled at its limit
