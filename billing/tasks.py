"""Celery beat: the bots beyond a plan that shrank without anyone acting (a grace period or a
trial ran out) are stopped. The plan itself already reads as Free on its own (`plan_in_force`)."""

from __future__ import annotations

import logging

from celery import shared_task
from django.apps import apps

from billing import entitlements, lifecycle

logger = logging.getLogger(__name__)


@shared_task(name="billing.tasks.enforce_plan_limits", ignore_result=True)
def enforce_plan_limits() -> int:
    """How many bots were stopped. Only owners with a bot holding a slot are looked at."""
    owners = (
        apps.get_model("bots", "Bot")
        .objects.filter(status__in=entitlements.SLOT_STATUSES)
        .values_list("owner_id", flat=True)
        .distinct()
    )
    stopped = 0
    for owner_id in list(owners):
        try:
            stopped += len(lifecycle.enforce_user(owner_id))
        except Exception:
            # One user's trouble must not keep the others' limits from holding.
            logger.exception("Could not enforce the plan limits of user %s.", owner_id)
    return stopped
