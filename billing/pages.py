"""How a page tells a trader about a plan limit: a message the layout ends with a link to /pricing/."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest

from billing.entitlements import PlanLimitReached

PLAN_LIMIT_TAG = "plan-limit"


def refuse(request: HttpRequest, exc: PlanLimitReached) -> None:
    messages.error(request, exc.refusal.sentence, extra_tags=PLAN_LIMIT_TAG)
