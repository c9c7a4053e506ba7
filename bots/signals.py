"""A fill on the paper exchange wakes the bots it filled at once instead of at their next interval."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver
from django.utils import timezone

from bots.models import Bot, BotStatus
from exchanges.base import Fill
from exchanges.paper.market import fills_recorded


@receiver(fills_recorded)
def wake_bots_on_fill(sender: object, account_ids: list[int], fills: list[Fill], **kwargs: Any) -> None:
    """Only the bots that own a filled order: bots sharing a paper account would otherwise all
    queue a tick for every fill, and the filled bot's tick would wait behind theirs."""
    from bots.tasks import tick_now

    filled = {fill.client_order_id for fill in fills}
    bots = Bot.objects.filter(
        status=BotStatus.RUNNING,
        exchange_account__paper_account_id__in=account_ids,
        orders__client_order_id__in=filled,
    ).distinct()
    bot_ids = list(bots.values_list("id", flat=True))
    if bot_ids:
        Bot.objects.filter(id__in=bot_ids).update(next_tick_at=timezone.now())
        for bot_id in bot_ids:
            tick_now(bot_id)
