from __future__ import annotations

from celery import shared_task

from risk.actions import check_all_daily_losses


@shared_task(ignore_result=True)
def check_daily_loss_limits() -> int:
    """Beat: today's loss of every watched trader against their limit, outside any tick."""
    return check_all_daily_losses()
