"""The daily summary: at the hour the trader chose, in their time zone, once a local day, their
bots' PnL (today and in total: the dashboard's figures, from trading.overview), the day's fills
and what needs their attention.

A beat task runs every few minutes; a summary is due once the local hour has reached the chosen
one and none was sent this local day. The day is claimed by a conditional UPDATE on
`last_summary_on`, so two workers, or a clock going back an hour (the end of summer time),
never send a second one.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from billing.models import Subscription, SubscriptionStatus
from bots.models import BotStatus
from notifications.events import Kind
from notifications.models import DailySummary
from notifications.record import notify_after_commit
from trading.models import Fill, Order
from trading.numbers import fixed
from trading.overview import Overview, overview, user_zone

logger = logging.getLogger(__name__)


def local_now(user: User, now: datetime) -> datetime:
    return now.astimezone(user_zone(user))


def is_due(schedule: DailySummary, now: datetime) -> bool:
    local = local_now(schedule.user, now)
    return local.hour >= schedule.hour and schedule.last_summary_on != local.date()


def first_day(user: User, hour: int, now: datetime) -> date | None:
    """The `last_summary_on` to save with a new hour: a chosen hour already past today counts
    as today's summary sent, so the first one comes at that hour, not at once."""
    local = local_now(user, now)
    return local.date() if local.hour >= hour else None


def do_save_schedule(user: User, hour: int | None, *, now: datetime | None = None) -> None:
    now = now or timezone.now()
    if hour is None:
        DailySummary.objects.filter(user=user).delete()
        return
    current = DailySummary.objects.filter(user=user).first()
    if current is not None and current.hour == hour:
        return  # unchanged: today's state stands
    DailySummary.objects.update_or_create(
        user=user, defaults={"hour": hour, "last_summary_on": first_day(user, hour, now)}
    )


def claim(schedule: DailySummary, day: date) -> bool:
    """True for the one caller that marks `day` sent."""
    return bool(
        DailySummary.objects.filter(pk=schedule.pk)
        .filter(Q(last_summary_on__isnull=True) | Q(last_summary_on__lt=day))
        .update(last_summary_on=day)
    )


def send_due_summaries(*, now: datetime | None = None) -> int:
    now = now or timezone.now()
    sent = 0
    # No time zone's date runs more than a day ahead of UTC's: a summary sent on that date or
    # later is today's wherever the trader lives.
    done_on = now.astimezone(UTC).date() + timedelta(days=1)
    candidates = DailySummary.objects.filter(Q(last_summary_on__isnull=True) | Q(last_summary_on__lt=done_on))
    for schedule in candidates.select_related("user").order_by("pk").iterator():
        if not is_due(schedule, now):
            continue
        try:
            sent += send_summary(schedule, now)
        except Exception:
            # One trader's figures failing (a venue down) must not hold back everyone else's.
            logger.exception("Daily summary for user %s failed", schedule.user_id)
    return sent


def send_summary(schedule: DailySummary, now: datetime) -> bool:
    user = schedule.user
    day = local_now(user, now).date()
    content = summary_for(user, now)  # read before claiming: a failure here retries next run
    with transaction.atomic():
        if not claim(schedule, day):
            return False
        notify_after_commit(
            user.pk,
            Kind.DAILY_SUMMARY,
            f"summary:{day.isoformat()}",
            title=f"Daily summary for {day:%a %-d %b}",
            body=content.text(),
            link=reverse("home"),
            payload=content.payload(day),
        )
    return True


# The summary's content ---------------------------------------------------------------


@dataclass
class BotFigures:
    bot_id: int
    name: str
    symbol: str
    status: str
    quote: str
    today_pnl: str | None  # decimal strings; None for a bot without books yet
    total_pnl: str | None


@dataclass
class Summary:
    bots: list[BotFigures]
    totals: list[dict[str, str]]
    fills: int
    attention: list[str]

    def text(self) -> str:
        lines = [
            f"{t['quote']}: today {signed_text(t['today_pnl'])}, in total {signed_text(t['total_pnl'])}."
            for t in self.totals
        ]
        for bot in self.bots:
            if bot.today_pnl is not None:
                lines.append(
                    f"{bot.name} ({bot.symbol}): today {signed_text(bot.today_pnl)} {bot.quote}, "
                    f"in total {signed_text(bot.total_pnl)} {bot.quote}."
                )
        lines.append(f"Fills in the last 24 hours: {self.fills}.")
        if self.attention:
            lines.append("Needs your attention: " + " ".join(self.attention))
        else:
            lines.append("Nothing needs your attention.")
        return "\n".join(lines)

    def payload(self, day: date) -> dict[str, Any]:
        return {
            "day": day.isoformat(),
            "bots": [vars(bot) for bot in self.bots],
            "totals": self.totals,
            "fills": self.fills,
            "attention": self.attention,
        }


def signed_text(value: str | None) -> str:
    """A PnL figure at cents with its sign, as the dashboard shows it: "+12.50", "-3.00"."""
    return "\u2014" if value is None else fixed(value, signed=True)


def summary_for(user: User, now: datetime) -> Summary:
    data = overview(user, now=now)
    return Summary(
        bots=[_figures(line) for line in data.lines if line.summary is not None or line.in_play],
        totals=[
            {"quote": t.quote, "today_pnl": str(t.today_pnl), "total_pnl": str(t.total_pnl)}
            for t in data.totals
        ],
        fills=Fill.objects.filter(bot__owner=user, time__gte=now - timedelta(days=1), time__lt=now).count(),
        attention=attention(user, data),
    )


def _figures(line: Any) -> BotFigures:
    summary = line.summary
    return BotFigures(
        bot_id=line.bot.pk,
        name=line.bot.name,
        symbol=line.bot.symbol,
        status=line.status_label,
        quote=line.quote,
        today_pnl=str(line.today_pnl) if line.today_pnl is not None else None,
        total_pnl=str(summary.total_pnl) if summary is not None else None,
    )


def attention(user: User, data: Overview) -> list[str]:
    notes = [
        f"{line.bot.name} stopped with an error{': ' + line.status_note if line.status_note else '.'}"
        for line in data.lines
        if line.bot.status == BotStatus.ERROR
    ]
    unconfirmed = Order.objects.filter(bot__owner=user, cancel_unconfirmed_since__isnull=False).count()
    if unconfirmed:
        notes.append(
            f"{unconfirmed} order cancel{'s are' if unconfirmed != 1 else ' is'} "
            "not yet confirmed by the exchange."
        )
    if Subscription.objects.filter(user=user, status=SubscriptionStatus.PAST_DUE).exists():
        notes.append("Your last payment did not go through: update your card on the Billing page.")
    return notes
