"""Saving the rules, watching today's loss against them, and the kill switch."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.urls import reverse
from django.utils import timezone

from accounts.audit import record_event
from accounts.models import User
from bots import actions as bot_actions
from bots.models import Bot, BotEvent, BotEventKind
from notifications.events import Kind
from notifications.record import notify_after_commit
from risk.models import LossAction, RiskRules
from trading.numbers import plain
from trading.overview import local_midnight, overview

logger = logging.getLogger(__name__)

RULE_FIELDS = (
    "daily_loss_limit",
    "daily_loss_action",
    "max_total_investment",
    "max_bots_per_symbol",
    "max_leverage",
)


@dataclass(frozen=True)
class LeverageCap:
    """The highest leverage a trader may choose, and whose limit it is, for the refusal's words."""

    value: int
    whose: str


def server_leverage_cap() -> LeverageCap:
    """The server's own (FUTURES_MAX_LEVERAGE): what a backtest may explore."""
    return LeverageCap(settings.FUTURES_MAX_LEVERAGE, "this server's limit")


class LeverageCapTooHigh(ValueError):
    pass


def _caps_above_the_trader(rules: RiskRules) -> list[LeverageCap]:
    """The caps a trader cannot raise: the server's, and one staff set on the account."""
    caps = [server_leverage_cap()]
    if rules.staff_max_leverage:
        caps.append(LeverageCap(rules.staff_max_leverage, "the limit Gridwise support set on your account"))
    return caps


def leverage_cap(user: User) -> LeverageCap:
    """The lowest of the server's cap, the one staff set on the account, and the trader's own."""
    rules = rules_for(user)
    caps = _caps_above_the_trader(rules)
    if rules.max_leverage:
        caps.append(LeverageCap(rules.max_leverage, "your own limit in Risk rules"))
    return min(caps, key=lambda cap: cap.value)


def check_leverage_limit(user: User, wanted: int | None) -> None:
    """A trader's own cap may only lower what the server and staff allow."""
    if wanted is None:
        return
    ceiling = min(cap.value for cap in _caps_above_the_trader(rules_for(user)))
    if wanted > ceiling:
        raise LeverageCapTooHigh(f"Choose {ceiling}x or less: that is the most your account allows.")


def rules_for(user: User) -> RiskRules:
    """The user's rules; an unsaved, empty set (no limits) until they first save."""
    return RiskRules.objects.filter(user=user).first() or RiskRules(user=user)


def do_save_rules(user: User, values: dict[str, Any], *, request: HttpRequest | None = None) -> RiskRules:
    check_leverage_limit(user, values.get("max_leverage"))
    rules, _ = RiskRules.objects.update_or_create(user=user, defaults={f: values.get(f) for f in RULE_FIELDS})
    record_event(
        "risk.rules_changed",
        request=request,
        actor=user,
        details={f: None if values.get(f) is None else str(values[f]) for f in RULE_FIELDS},
    )
    return rules


# Today's loss -------------------------------------------------------------------


@dataclass(frozen=True)
class QuoteLoss:
    """Today's loss in one quote asset (negative when the day is a gain)."""

    quote: str
    loss: Decimal

    @property
    def gain(self) -> Decimal:
        return -self.loss

    @property
    def meter_value(self) -> Decimal:
        return max(self.loss, Decimal(0))

    def reaches(self, limit: Decimal | None) -> bool:
        return limit is not None and self.loss >= limit


def todays_losses(user: User, *, now: datetime | None = None) -> list[QuoteLoss]:
    """The negative of today's PnL (realised plus unrealised since local midnight) per quote
    asset, over all the user's bots: the dashboard's own totals."""
    return [QuoteLoss(totals.quote, -totals.today_pnl) for totals in overview(user, now=now).totals]


def local_today(user: User, now: datetime) -> date:
    return local_midnight(user, now).date()


def claim_trip(rules: RiskRules, today: date) -> bool:
    """True for the one caller that marks today as tripped; every other gets False."""
    not_yet = Q(tripped_on__isnull=True) | ~Q(tripped_on=today)
    return RiskRules.objects.filter(Q(pk=rules.pk) & not_yet).update(tripped_on=today) == 1


def check_daily_loss(rules: RiskRules, *, now: datetime | None = None) -> list[Bot] | None:
    """Trip the daily loss limit if today's loss reached it and it has not tripped today.
    Returns the bots it stopped (empty when only alerting), or None when nothing tripped."""
    now = now or timezone.now()
    user = rules.user
    today = local_today(user, now)
    if rules.daily_loss_limit is None or rules.tripped_on == today:
        return None
    reached = [loss for loss in todays_losses(user, now=now) if loss.reaches(rules.daily_loss_limit)]
    if not reached:
        return None
    # The claim, the stops and their records commit together: a failure part-way re-arms the
    # rule for the next check instead of leaving it tripped with bots still running.
    with transaction.atomic():
        if not claim_trip(rules, today):
            return None
        return _trip(rules, max(reached, key=lambda loss: loss.loss), today)


def _trip(rules: RiskRules, worst: QuoteLoss, today: date) -> list[Bot]:
    user = rules.user
    limit = rules.daily_loss_limit
    said = (
        f"Today's loss of {plain(worst.loss)} {worst.quote} reached your daily loss limit of {plain(limit)}."
    )
    stopping = rules.daily_loss_action == LossAction.STOP_ALL
    stopped = bot_actions.do_stop_all(user) if stopping else []
    for bot in stopped:
        BotEvent.objects.create(
            bot=bot,
            kind=BotEventKind.WARNING,
            message=f"{said} Stopped by your risk rules.",
            details={"rule": "daily_loss_limit", "loss": str(worst.loss), "quote": worst.quote},
        )
    details = {
        "loss": str(worst.loss),
        "quote": worst.quote,
        "limit": str(limit),
        "action": rules.daily_loss_action,
        "day": today.isoformat(),
        "stopped_bot_ids": [bot.pk for bot in stopped],
    }
    record_event("risk.daily_loss_limit", actor=user, details=details)
    outcome = (
        f"{len(stopped)} bot{'s' if len(stopped) != 1 else ''} stopping."
        if stopping
        else "Your bots keep running: the rule only alerts."
    )
    notify_after_commit(
        user.pk,
        Kind.RISK_DAILY_LOSS,
        f"risk.daily_loss:{today.isoformat()}",
        title="Daily loss limit reached",
        body=f"{said} {outcome}",
        link=reverse("risk"),
        payload=details,
    )
    return stopped


def check_all_daily_losses(*, now: datetime | None = None) -> int:
    """Every user with a daily loss limit and a bot in play; returns how many tripped."""
    tripped = 0
    in_play = Bot.objects.filter(status__in=bot_actions.STOPPABLE).values("owner_id")
    watched = RiskRules.objects.filter(daily_loss_limit__isnull=False, user_id__in=in_play).select_related(
        "user"
    )
    for rules in watched:
        try:
            if check_daily_loss(rules, now=now) is not None:
                tripped += 1
        except Exception:  # one trader's unreachable venue must not stop the watch of the others
            logger.exception("Checking the daily loss limit of user %s failed", rules.user_id)
    return tripped


# The kill switch ----------------------------------------------------------------


def do_kill_switch(user: User, *, request: HttpRequest | None = None, sell_base: bool = False) -> list[Bot]:
    stopped = bot_actions.do_stop_all(user, sell_base=sell_base)
    for bot in stopped:
        BotEvent.objects.create(
            bot=bot,
            kind=BotEventKind.WARNING,
            message="Stopped by the kill switch on the Risk page.",
            details={"rule": "kill_switch"},
        )
    record_event(
        "risk.kill_switch",
        request=request,
        actor=user,
        details={"stopped_bot_ids": [bot.pk for bot in stopped], "sell_base": sell_base},
    )
    return stopped
