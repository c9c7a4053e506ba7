"""A futures grid bot row, running on a paper account, and a position opened on its venue:
the bot's own engine is not needed to read what the venue holds."""

from __future__ import annotations

from decimal import Decimal

from django.utils import timezone

from accounts.models import User
from bots.models import Bot, BotStatus
from bots.strategies import futures_grid
from bots.tests.conftest import paper_account_for
from exchanges.base import InstrumentKind, OrderRequest, OrderType, Side
from exchanges.paper import market
from exchanges.paper.exchange import PaperExchange
from exchanges.registry import exchange_for_account

D = Decimal
START_PRICE = D("55000")


def futures_bot(owner: User, **config: object) -> Bot:
    """A long 10x futures grid, 50,000-60,000 in 5 grids on 1,000 USDT, marked running."""
    market.set_price("BTCUSDT", START_PRICE)
    values: dict[str, object] = {
        "symbol": "BTCUSDT",
        "lower_price": D("50000"),
        "upper_price": D("60000"),
        "grid_count": 5,
        "investment": D("1000"),
        "leverage": D("10"),
        "mode": futures_grid.Mode.LONG,
        **config,
    }
    settings = futures_grid.FuturesGridConfig(**values)  # type: ignore[arg-type]
    return Bot.objects.create(
        owner=owner,
        exchange_account=paper_account_for(owner),
        name="BTC futures",
        symbol="BTCUSDT",
        strategy=futures_grid.NAME,
        config=futures_grid.config_to_json(settings),
        status=BotStatus.RUNNING,
        run=1,
        price_at_creation=START_PRICE,
        price_at_start=START_PRICE,
        started_at=timezone.now(),
    )


def paper_venue(bot: Bot) -> PaperExchange:
    venue = exchange_for_account(bot.exchange_account)
    assert isinstance(venue, PaperExchange)
    return venue


def open_position(bot: Bot, side: Side = Side.BUY, quantity: str = "0.074", leverage: str = "10") -> None:
    """A market order on the bot's perpetual at the current paper price."""
    venue = paper_venue(bot)
    venue.set_leverage(bot.symbol, D(leverage))
    venue.place_order(
        OrderRequest(
            bot.symbol,
            side,
            OrderType.MARKET,
            D(quantity),
            f"test-open-{side.value}",
            kind=InstrumentKind.LINEAR,
        )
    )
