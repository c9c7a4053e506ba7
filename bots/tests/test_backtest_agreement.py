"""The backtester and the live engine, on the paper exchange and PostgreSQL, fed the same prices,
make the same trades and book the same profit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.conf import settings

from bots import actions, engine
from bots.backtest import exact
from bots.models import Bot, BotStatus
from exchanges.base import Candle
from exchanges.paper import market
from exchanges.paper.instruments import INSTRUMENTS
from trading.models import Fill

D = Decimal
T0 = datetime(2024, 1, 1, tzinfo=UTC)
# From the 54,000 start through every level of the 45,000-65,000 grid, down and up, several
# levels at a time, and out of the range on both sides.
PRICES = ["54000", "52900", "57100", "48500", "44000", "51000", "61500", "66000", "56000", "47000", "53500"]


def tick(bot: Bot) -> Bot:
    assert engine.run_tick(bot.pk)
    bot.refresh_from_db()
    return bot


def test_the_live_engine_and_the_backtest_fill_the_same_orders_on_the_same_prices(paper_bot: Bot) -> None:
    actions.do_start_bot(paper_bot)
    tick(paper_bot)  # sends the start trade at 54,000
    bot = tick(paper_bot)  # books it and lays out the grid
    assert bot.status == BotStatus.RUNNING
    for price in PRICES[1:]:
        market.set_price("BTCUSDT", D(price))
        bot = tick(bot)
    live = [
        (f.side, f.price, f.quantity, f.fee, f.fee_asset, f.is_maker)
        for f in Fill.objects.filter(bot=bot).order_by("time", "id")
    ]
    ledger = bot.books
    assert ledger is not None

    # The same prices as candles that open, peak, bottom and close at one price each.
    candles = [Candle(T0 + timedelta(minutes=i), D(p), D(p), D(p), D(p), D(1)) for i, p in enumerate(PRICES)]
    result = exact.run(
        bot.grid_config, INSTRUMENTS["BTCUSDT"], candles, slippage=D(str(settings.PAPER_MARKET_SLIPPAGE))
    )
    simulated = [(f.side, f.price, f.quantity, f.fee, f.fee_asset, f.is_maker) for f in result.fills]

    assert len(live) > 10, "the sequence must trade in earnest for the comparison to mean anything"
    assert simulated == live
    summary = ledger.summary(D(PRICES[-1]))
    assert result.grid_profit == summary.grid_profit
    assert result.unrealized == summary.unrealized_pnl
    assert result.summary.round_trips == summary.round_trips
