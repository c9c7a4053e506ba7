"""A bot start refused by a limit (the plan's, or the trader's own risk rules) as a
`limit_reached` notification: the trader may not be looking at the page that refused it (an
automatic restart, a script on the API)."""

from __future__ import annotations

from typing import Any

from django.urls import reverse

from notifications.events import Kind
from notifications.record import notify_after_commit

PLAN = "plan"
RISK = "risk"
WHAT = {PLAN: "your plan's limit", RISK: "your risk rules"}


def start_refused(bot: Any, rule: str, message: str, *, limit: str = "") -> None:
    """Call outside the refused start's transaction (its rollback would take this with it).
    Recorded once per bot, run and rule: pressing Start again is not news."""
    link = reverse("pricing") if rule == PLAN else reverse("risk")
    notify_after_commit(
        bot.owner_id,
        Kind.LIMIT_REACHED,
        f"limit:{bot.pk}:run:{bot.run}:{rule}:{limit}",
        title=f"{bot.name}: not started, {WHAT[rule]} reached",
        body=message,
        link=link,
        payload={"bot_id": bot.pk, "bot_name": bot.name, "symbol": bot.symbol, "rule": rule, "limit": limit},
    )
