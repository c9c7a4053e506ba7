"""A fill on the paper exchange wakes the bots it filled at once instead of at their next interval."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.dispatch import receiver
from django.utils import timezone

from bots.models import Bot, BotStatus
from exchanges.base import Fill
from exchanges.paper.market import fills_recorded

WAKE_GRACE = timedelta(seconds=3)


@receiver(fills_recorded)
def wake_bots_on_fill(sender: object, account_ids: list[int], fills: list[Fill], **kwargs: Any) -> None:
    """Only the bots that own a filled order: bots sharing a paper account would otherwise all
    queue a tick for every fill, and the filled bot's tick would wait behind theirs."""
    from bots.tasks import wake_now

    filled = {fill.client_order_id for fill in fills}
    bots = Bot.objects.filter(
        status=BotStatus.RUNNING,
        exchange_account__paper_account_id__in=account_ids,
        orders__client_order_id__in=filled,
    ).distinct()
    woken = dict(bots.values_list("id", "tick_interval"))
    if woken:
        # The wake-up is the bot's next tick (it reschedules the bot): the dispatcher stays
        # away while it is queued, unless it has not run within WAKE_GRACE (a lost message),
        # and a routine message already queued for the bot is superseded. Dispatched as well, the bot's
        # routine tick would race the wake-up for the lease and, winning, book the fill on
        # a niced worker.
        Bot.objects.filter(id__in=woken).update(next_tick_at=timezone.now() + WAKE_GRACE)
        wake_now(woken)
