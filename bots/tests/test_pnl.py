from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from bots.models import Bot
from bots.tests.test_engine import started
from exchanges.paper import market
from trading.models import EquitySnapshot
from trading.pnl import bot_pnl, mark_price

D = Decimal


def test_a_bot_that_never_started_has_no_pnl(paper_bot: Bot) -> None:
    assert bot_pnl(paper_bot) is None


def test_paper_pnl_is_marked_at_the_market_and_adds_up(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    market.set_price("BTCUSDT", D("50000"))
    assert mark_price(bot) == D("50000")
    summary = bot_pnl(bot)
    assert summary is not None
    assert summary.total_pnl == summary.equity - summary.investment
    assert summary.unrealized_pnl < 0  # the base bought at 54,000 is worth less at 50,000


def test_an_explicit_mark_wins_and_the_snapshot_is_the_fallback(paper_bot: Bot) -> None:
    bot = started(paper_bot)
    at_60k = bot_pnl(bot, D("60000"))
    assert at_60k is not None
    assert at_60k.unrealized_pnl > 0
    bot.exchange_account.exchange = "bybit"  # as a live venue: no paper market to ask
    EquitySnapshot.objects.create(
        bot=bot, time=timezone.now(), price=D("51234.5"), equity=D(0), grid_profit=D(0), unrealized_pnl=D(0)
    )
    assert mark_price(bot) == D("51234.5")
