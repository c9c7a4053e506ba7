"""The one place a plan limit is decided.

Pages, the API, the throttle, the engine's start and the backtests ask here; none counts on
its own. Each refusal is a `Refusal` value (raised inside `PlanLimitReached`) naming the limit,
the current use, the allowed value and the plan that lifts it.

`billing` answers and never asks: it reads other apps' rows by model label so that it imports
none of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.apps import apps
from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from billing import plans
from billing.models import Subscription, SubscriptionStatus
from billing.plans import Limit, Plan

# Bots that hold a slot: a bot stopping still has orders to cancel, but frees its slot.
SLOT_STATUSES = ("starting", "running")
PAPER_EXCHANGE = "paper"


@dataclass(frozen=True)
class Refusal:
    limit: Limit
    current: int
    allowed: int
    plan: Plan
    lifted_by: Plan | None

    @property
    def upgrade_url(self) -> str:
        return reverse("pricing")

    @property
    def sentence(self) -> str:
        """The refusal in words, with the plan that lifts it; pages add the link."""
        if self.limit in (plans.API_WRITE, plans.WEBHOOKS) or self.allowed == 0:
            said = f"Your {self.plan.name} plan does not include {self.limit.unit}."
        else:
            allows = self.limit.count(self.allowed)
            said = f"Your {self.plan.name} plan allows {allows}; you have {self.current}."
        if self.lifted_by is None:
            return said
        return f"{said} The {self.lifted_by.name} plan lifts this limit."

    @property
    def message(self) -> str:
        """The sentence with where to upgrade, for the API."""
        return f"{self.sentence} Plans: {self.upgrade_url}"

    def as_fields(self) -> dict[str, list[str]]:
        """The API's `fields` for a `plan_limit` error."""
        fields = {
            "limit": [self.limit.key],
            "current": [str(self.current)],
            "allowed": [str(self.allowed)],
            "plan": [self.plan.code.value],
        }
        if self.lifted_by is not None:
            fields["upgrade_plan"] = [self.lifted_by.code.value]
        return fields


class PlanLimitReached(Exception):
    def __init__(self, refusal: Refusal) -> None:
        super().__init__(refusal.message)
        self.refusal = refusal


# The plan in force --------------------------------------------------------------


def trial_days() -> int:
    return int(settings.BILLING_TRIAL_DAYS)


def subscription_for(user: Any) -> Subscription:
    """The user's subscription, opened as a trial from their sign-up date the first time asked."""
    cached: Subscription | None = getattr(user, "_billing_subscription", None)
    if cached is not None:
        return cached
    subscription, _ = Subscription.objects.get_or_create(
        user_id=user.pk,
        defaults={
            "plan": plans.TRIAL_PLAN.value,
            "status": SubscriptionStatus.TRIALING,
            "trial_end": user.date_joined + timedelta(days=trial_days()),
        },
    )
    user._billing_subscription = subscription
    return subscription


def forget(user: Any) -> None:
    """Drop the subscription remembered on this user object, after it changed."""
    if hasattr(user, "_billing_subscription"):
        del user._billing_subscription


def grace_days() -> int:
    return int(settings.BILLING_GRACE_DAYS)


def grace_end(subscription: Subscription) -> datetime | None:
    """When a past-due plan stops holding: `BILLING_GRACE_DAYS` after the first failed payment."""
    if subscription.status != SubscriptionStatus.PAST_DUE or subscription.past_due_since is None:
        return None
    return subscription.past_due_since + timedelta(days=grace_days())


def plan_in_force(subscription: Subscription, now: datetime | None = None) -> Plan:
    """Trials, cancellations and grace periods end on read: no job has to run for the fallback
    to Free (the job in `billing.tasks` only stops the bots beyond it)."""
    now = now or timezone.now()
    fallback = plans.PLANS[plans.FALLBACK_PLAN]
    ended = subscription.current_period_end is not None and subscription.current_period_end <= now
    if subscription.status == SubscriptionStatus.TRIALING:
        return plans.plan_for(subscription.plan) if subscription.trial_running(now) else fallback
    if subscription.status == SubscriptionStatus.CANCELLED:
        return fallback
    grace = grace_end(subscription)
    if grace is not None and grace <= now:
        return fallback
    if subscription.granted_by_staff and ended:
        return fallback
    if subscription.cancel_at_period_end and ended:
        return fallback
    return plans.plan_for(subscription.plan)


def plan_of(user: Any) -> Plan:
    return plan_in_force(subscription_for(user))


# Usage ------------------------------------------------------------------------


def _bots() -> Any:
    return apps.get_model("bots", "Bot").objects


def live_bots_in_use(user: Any, *, exclude_bot_id: int | None = None) -> int:
    found = (
        _bots()
        .filter(owner_id=user.pk, status__in=SLOT_STATUSES)
        .exclude(exchange_account__exchange=PAPER_EXCHANGE)
    )
    return int(found.exclude(pk=exclude_bot_id).count())


def paper_bots_in_use(user: Any, *, exclude_bot_id: int | None = None) -> int:
    found = _bots().filter(
        owner_id=user.pk, status__in=SLOT_STATUSES, exchange_account__exchange=PAPER_EXCHANGE
    )
    return int(found.exclude(pk=exclude_bot_id).count())


def exchange_accounts_in_use(user: Any) -> int:
    return int(apps.get_model("exchanges", "ExchangeAccount").objects.filter(owner_id=user.pk).count())


def month_start(now: datetime | None = None) -> datetime:
    local = timezone.localtime(now or timezone.now(), timezone.get_default_timezone())
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def backtests_this_month(user: Any) -> int:
    backtests = apps.get_model("bots", "Backtest").objects
    return int(backtests.filter(owner_id=user.pk, created_at__gte=month_start()).count())


def webhooks_in_use(user: Any) -> int:
    return int(apps.get_model("bots", "WebhookEndpoint").objects.filter(owner_id=user.pk).count())


@dataclass(frozen=True)
class Usage:
    limit: Limit
    current: int
    allowed: int | None

    @property
    def percent(self) -> int:
        """For the usage bar: 0 to 100; an unlimited limit shows an empty bar."""
        if self.allowed is None:
            return 0
        if self.allowed == 0:
            return 100 if self.current else 0
        return min(100, round(100 * self.current / self.allowed))

    @property
    def full(self) -> bool:
        return self.allowed is not None and self.current >= self.allowed


def usage(user: Any) -> list[Usage]:
    """Use against every counted limit, for the billing page."""
    plan = plan_of(user)
    counts = {
        plans.LIVE_BOTS: live_bots_in_use(user),
        plans.PAPER_BOTS: paper_bots_in_use(user),
        plans.EXCHANGE_ACCOUNTS: exchange_accounts_in_use(user),
        plans.BACKTESTS: backtests_this_month(user),
    }
    return [Usage(limit, current, plan.allowed(limit)) for limit, current in counts.items()]


# The questions ------------------------------------------------------------------


def _check_count(user: Any, limit: Limit, current: int) -> None:
    plan = plan_of(user)
    allowed = plan.allowed(limit)
    if allowed is not None and current >= allowed:
        refusal = Refusal(limit, current, allowed, plan, plans.cheapest_lifting(limit, current + 1))
        raise PlanLimitReached(refusal)


def check_start_bot(bot: Any) -> None:
    """May this bot start (or keep starting)? Counts the owner's other bots holding a slot."""
    paper = bot.exchange_account.exchange == PAPER_EXCHANGE
    limit = plans.PAPER_BOTS if paper else plans.LIVE_BOTS
    count = paper_bots_in_use if paper else live_bots_in_use
    _check_count(bot.owner, limit, count(bot.owner, exclude_bot_id=bot.pk))


def check_engine_start(bot: Any) -> None:
    """The engine's last guard. Of bots starting at the same moment, the earlier-created keep
    their slots: counting every other starter too would refuse them all."""
    paper = bot.exchange_account.exchange == PAPER_EXCHANGE
    limit = plans.PAPER_BOTS if paper else plans.LIVE_BOTS
    others = _bots().filter(owner_id=bot.owner_id).exclude(pk=bot.pk)
    others = (
        others.filter(exchange_account__exchange=PAPER_EXCHANGE)
        if paper
        else others.exclude(exchange_account__exchange=PAPER_EXCHANGE)
    )
    holding = (
        others.filter(status="running").count() + others.filter(status="starting", pk__lt=bot.pk).count()
    )
    _check_count(bot.owner, limit, int(holding))


def check_add_exchange_account(user: Any) -> None:
    _check_count(user, plans.EXCHANGE_ACCOUNTS, exchange_accounts_in_use(user))


def check_run_backtest(user: Any) -> None:
    _check_count(user, plans.BACKTESTS, backtests_this_month(user))


def _check_feature(user: Any, limit: Limit, included: bool, current: int) -> None:
    if included:
        return
    plan = plan_of(user)
    raise PlanLimitReached(Refusal(limit, current, 0, plan, plans.cheapest_lifting(limit, 1)))


def check_add_webhook(user: Any) -> None:
    _check_feature(user, plans.WEBHOOKS, plan_of(user).webhooks, webhooks_in_use(user))


def check_api_write(user: Any) -> None:
    """May this user change things through the API (full access), not only read?"""
    _check_feature(user, plans.API_WRITE, plan_of(user).api_access is plans.ApiAccess.FULL, 0)


def api_rate(user: Any) -> str | None:
    """The user's API rate in DRF's syntax; None is unlimited."""
    per_minute = plan_of(user).api_requests_per_minute
    return None if per_minute is None else f"{per_minute}/min"


def lock_user(user: Any) -> None:
    """Serialise a user's check-then-create, so two requests cannot both take the last slot.
    Call inside the transaction that creates: the lock lasts until it ends."""
    model = apps.get_model(settings.AUTH_USER_MODEL)
    list(model.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))
