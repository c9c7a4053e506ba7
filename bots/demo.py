"""The demo trader's grid bot, trading on the paper market's replayed feed."""

from __future__ import annotations

from decimal import ROUND_DOWN, ROUND_UP, Decimal

from accounts.models import User
from bots import actions
from bots.models import Bot
from bots.strategies.grid import GridConfig
from exchanges.base import ExchangeUnavailable
from exchanges.models import ExchangeAccount, ExchangeName
from exchanges.paper import market
from exchanges.paper.feeds import feed_for
from exchanges.paper.instruments import instrument_for

DEMO_SYMBOL = "BTCUSDT"


def seed_demo_bot(user: User) -> Bot | None:
    """One running demo bot per demo user, laid out around the current paper price."""
    if Bot.objects.owned_by(user).exists():
        return None
    account = ExchangeAccount.objects.owned_by(user).filter(exchange=ExchangeName.PAPER).first()
    if account is None:
        return None
    price = _current_price()
    instrument = instrument_for(DEMO_SYMBOL)
    config = GridConfig(
        symbol=DEMO_SYMBOL,
        lower_price=instrument.round_price(price * Decimal("0.85"), ROUND_DOWN),
        upper_price=instrument.round_price(price * Decimal("1.25"), ROUND_UP),
        grid_count=20,
        investment=Decimal("2000"),
    )
    bot = actions.do_create_bot(user, account, "Demo BTC grid", config, price)
    return actions.do_start_bot(bot)


def _current_price() -> Decimal:
    try:
        return market.last_price(DEMO_SYMBOL)
    except ExchangeUnavailable:
        market.advance(DEMO_SYMBOL, feed_for(DEMO_SYMBOL))  # the market's first step
        return market.last_price(DEMO_SYMBOL)
