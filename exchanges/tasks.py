from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from exchanges.paper import market
from exchanges.paper.feeds import feed_for
from exchanges.paper.instruments import INSTRUMENTS
from exchanges.paper.models import PaperTick


@shared_task(ignore_result=True)
def advance_paper_markets() -> None:
    """One feed step for every paper symbol; beat calls this every PAPER_FEED_INTERVAL."""
    if settings.PAPER_FEED == "none":
        return
    for symbol in INSTRUMENTS:
        market.advance(symbol, feed_for(symbol))


@shared_task(ignore_result=True)
def prune_paper_ticks() -> None:
    cutoff = timezone.now() - timedelta(days=settings.PAPER_TICK_RETENTION_DAYS)
    PaperTick.objects.filter(time__lt=cutoff).delete()
