"""Fills written straight to the database, for pages that list many of them."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from itertools import count

from bots.models import Bot
from trading.models import Fill, Order

_orders = count(1)


def make_fills(
    bot: Bot,
    n: int,
    *,
    start: datetime,
    step: timedelta = timedelta(minutes=1),
    same_time_every: int = 1,
    price: str = "54000.12",
    quantity: str = "0.001234",
) -> list[Fill]:
    """`n` fills of `bot`, oldest at `start`; `same_time_every` > 1 gives runs of fills sharing a
    timestamp, which a keyset pager must order by id."""
    order = Order.objects.create(
        bot=bot,
        client_order_id=f"test-{bot.pk}-{next(_orders)}",
        symbol=bot.symbol,
        side="buy",
        order_type="limit",
        price=Decimal(price),
        quantity=Decimal(quantity) * n,
        status="filled",
    )
    return Fill.objects.bulk_create(
        Fill(
            bot=bot,
            order=order,
            exchange_account_id=bot.exchange_account_id,
            trade_id=f"{order.client_order_id}-{i}",
            symbol=bot.symbol,
            side="buy" if i % 2 == 0 else "sell",
            price=Decimal(price),
            quantity=Decimal(quantity),
            fee=Decimal("0.000001234"),
            fee_asset=bot.symbol.removesuffix("USDT"),
            time=start + step * (i // same_time_every),
        )
        for i in range(n)
    )
