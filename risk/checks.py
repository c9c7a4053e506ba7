"""The risk rules asked at a bot's start: pages, the API (through `bots.actions`) and the engine.

Which other bots count is decided once, here, by `_holding`; both rules and both callers
share it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from django.db.models import QuerySet

from billing.entitlements import SLOT_STATUSES
from bots.models import Bot, BotStatus
from notifications import limits
from risk.models import RiskRules
from trading.numbers import plain


class RiskLimitReached(Exception):
    """A start the trader's own risk rules refuse; the message says which rule and how to change it."""


def rules_of(user_id: int) -> RiskRules | None:
    return RiskRules.objects.filter(user_id=user_id).first()


def _holding(bot: Bot, *, engine: bool) -> QuerySet[Bot]:
    """The owner's other bots that hold their place. For the engine, of bots starting at the same
    moment the earlier-created keep theirs: counting every other starter would refuse them all."""
    others = Bot.objects.filter(owner_id=bot.owner_id).exclude(pk=bot.pk)
    if not engine:
        return others.filter(status__in=SLOT_STATUSES)
    return others.filter(status=BotStatus.RUNNING) | others.filter(status=BotStatus.STARTING, pk__lt=bot.pk)


def _investment(config: object) -> Decimal:
    try:
        return Decimal(str(config.get("investment", "0"))) if isinstance(config, dict) else Decimal(0)
    except InvalidOperation:
        return Decimal(0)


def check_start(bot: Bot, *, engine: bool = False) -> None:
    """May this bot start under its owner's risk rules? Raises RiskLimitReached if not. The
    engine's refusal is announced here; a page's or the API's by `bots.actions.do_start_bot`,
    outside the transaction it rolls back."""
    try:
        _check_start(bot, engine=engine)
    except RiskLimitReached as exc:
        if engine:
            limits.start_refused(bot, limits.RISK, str(exc))
        raise


def _check_start(bot: Bot, *, engine: bool) -> None:
    rules = rules_of(bot.owner_id)
    if rules is None:
        return
    holding = _holding(bot, engine=engine)
    if rules.max_bots_per_symbol is not None:
        same_symbol = holding.filter(symbol=bot.symbol).count()
        if same_symbol >= rules.max_bots_per_symbol:
            raise RiskLimitReached(
                f"Your risk rules allow {rules.max_bots_per_symbol} running bot"
                f"{'s' if rules.max_bots_per_symbol != 1 else ''} on {bot.symbol}; "
                f"{same_symbol} {'is' if same_symbol == 1 else 'are'} running. "
                "Stop one, or raise the limit on the Risk page."
            )
    if rules.max_total_investment is not None:
        running = sum(
            (_investment(config) for config in holding.values_list("config", flat=True)), Decimal(0)
        )
        wanted = _investment(bot.config)
        if running + wanted > rules.max_total_investment:
            raise RiskLimitReached(
                f"Starting this bot would bring the investment of your running bots to "
                f"{plain(running + wanted)}, over your risk limit of {plain(rules.max_total_investment)} "
                f"({plain(running)} already running). Stop a bot, or raise the limit on the Risk page."
            )
