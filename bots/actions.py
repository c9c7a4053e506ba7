"""Every change to a bot's lifecycle: checked transitions, each one an event, live after commit."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import User
from billing import entitlements
from bots import funds
from bots.futures_previews import FuturesPreviewResult, check_futures_preview, liquidation_shown
from bots.live import publish
from bots.models import Bot, BotEvent, BotEventKind, BotStatus
from bots.strategies import dca, futures_grid, grid, registry
from bots.strategies.base import ConfigError
from bots.webhooks import emit as webhooks
from exchanges.instruments import instrument_for
from exchanges.models import ExchangeAccount
from exchanges.registry import exchange_for_account
from notifications import limits
from risk import checks as risk_checks
from trading.models import LIVE_STATUSES, Order, OrderStatus
from trading.numbers import plain

MAX_AUTO_RESTARTS = 5
STOPPABLE = (BotStatus.STARTING, BotStatus.RUNNING, BotStatus.ERROR)


class InvalidTransition(Exception):
    """The bot is not in a status this action applies to."""


def _enqueue_tick(bot_id: int) -> None:
    from bots.tasks import tick_now

    transaction.on_commit(lambda: tick_now(bot_id))


def _enqueue_stop(bot_id: int) -> None:
    from bots.tasks import stop_now

    transaction.on_commit(lambda: stop_now(bot_id))


def transition(bot: Bot, to: str, *, allowed_from: tuple[str, ...], message: str, **fields: Any) -> Bot:
    """Move `bot` to `to` only if it is still in one of `allowed_from`: a conditional UPDATE."""
    with transaction.atomic():
        moved = Bot.objects.filter(pk=bot.pk, status__in=allowed_from).update(status=to, **fields)
        if not moved:
            bot.refresh_from_db()
            raise InvalidTransition(
                f"“{bot.name}” is {bot.get_status_display().lower()}; it cannot do that now."
            )
        BotEvent.objects.create(bot=bot, kind=BotEventKind.STATUS, message=message, details={"status": to})
        publish(bot, "status", {"status": to})
    bot.refresh_from_db()
    return bot


# Creating ----------------------------------------------------------------------


def check_bot_config(account: ExchangeAccount, config: Any, strategy: str = registry.DEFAULT) -> Decimal:
    """Validate against the live instrument; returns the price it was checked at."""
    exchange = exchange_for_account(account)
    instrument = exchange.instrument(config.symbol)
    price = exchange.ticker(config.symbol).last
    registry.strategy_named(strategy).validate(config, instrument, price, account.get_exchange_display())
    return price


def check_bot_funds(
    account: ExchangeAccount, config: Any, price: Decimal, strategy: str = registry.DEFAULT
) -> None:
    """Refuse, on the investment, a bot the account cannot fund at `price`. Balances the venue
    does not show in time do not block: the engine checks them again when the bot starts."""
    instrument = instrument_for(account, config.symbol)
    check = funds.check_funds(account, config, instrument, price, strategy=strategy)
    if check.short:
        # A grid's funds follow its investment; a DCA deal's, its base order and safety orders.
        field = "base_order_size" if strategy == dca.DCA.name else "investment"
        raise grid.GridConfigError({field: [check.message]})


# Futures grids -----------------------------------------------------------------

# A futures bot that may hold the account's position in its symbol: one-way mode keeps one
# position per symbol, so a second bot would trade (and close) the first one's. An errored bot
# counts too: it may still hold the position, and it may restart by itself.
POSITION_HOLDING = (BotStatus.STARTING, BotStatus.RUNNING, BotStatus.STOPPING, BotStatus.ERROR)


def check_futures_bot(
    account: ExchangeAccount, config: futures_grid.FuturesGridConfig, *, exclude: Bot | None = None
) -> FuturesPreviewResult:
    """A futures grid at the perpetual's mark price: the strategy's rules under the trader's
    leverage cap and the venue's limits, the margin free in USDT, and no other futures bot
    holding the position of this account and symbol (`exclude`: the bot itself)."""
    check_position_free(account, config.symbol, exclude=exclude)
    result = check_futures_preview(account, config)
    instrument = result.perpetual.instrument
    check = funds.check_funds(account, config, instrument, result.price, strategy=futures_grid.NAME)
    if check.short:
        raise ConfigError({"investment": [check.message]})
    return result


def position_holder(account: ExchangeAccount, symbol: str, *, exclude: Bot | None = None) -> Bot | None:
    holders = Bot.objects.filter(
        exchange_account=account, symbol=symbol, strategy=futures_grid.NAME, status__in=POSITION_HOLDING
    )
    if exclude is not None:
        holders = holders.exclude(pk=exclude.pk)
    return holders.order_by("pk").first()


def position_taken_message(holder: Bot, account: ExchangeAccount) -> str:
    return (
        f"“{holder.name}” already trades the {holder.symbol} perpetual on “{account.label}” "
        f"({holder.get_status_display().lower()}): bots there share one position. Stop it first, "
        "or choose another account or symbol."
    )


def check_position_free(account: ExchangeAccount, symbol: str, *, exclude: Bot | None = None) -> None:
    holder = position_holder(account, symbol, exclude=exclude)
    if holder is not None:
        raise ConfigError({"symbol": [position_taken_message(holder, account)]})


def liquidation_risk(result: FuturesPreviewResult, config: futures_grid.FuturesGridConfig) -> str:
    """The sentence a start inside-the-range liquidation needs consent to; "" when none."""
    estimate = futures_grid.liquidation_in_range(result.preview, config)
    if estimate is None:
        return ""
    at = liquidation_shown(estimate, result.perpetual.instrument.tick_size)
    return (
        f"The position would be liquidated at about {plain(at)} USDT, inside your range "
        f"({plain(config.lower_price)} to {plain(config.upper_price)} USDT)."
    )


def check_liquidation_consent(
    result: FuturesPreviewResult, config: futures_grid.FuturesGridConfig, *, confirmed: bool
) -> None:
    """Refuse, on `confirm_liquidation_risk`, a start whose liquidation sits inside the range
    unless the trader accepted it."""
    risk = liquidation_risk(result, config)
    if risk and not confirmed:
        raise ConfigError(
            {"confirm_liquidation_risk": [f"{risk} Confirm that you accept this risk to start it."]}
        )


def check_start_bot(bot: Bot, *, confirm_liquidation_risk: bool = False) -> None:
    """What a start must pass before `do_start_bot`: for a futures grid, its settings at the
    mark price it will be laid out at, and the trader's consent to a liquidation in range."""
    if bot.strategy != futures_grid.NAME:
        return
    config = bot.strategy_config
    result = check_futures_bot(bot.exchange_account, config, exclude=bot)
    check_liquidation_consent(result, config, confirmed=confirm_liquidation_risk)


def do_create_bot(
    owner: User,
    account: ExchangeAccount,
    name: str,
    config: Any,
    price: Decimal | None,
    *,
    strategy: str = registry.DEFAULT,
) -> Bot:
    """`config` is `strategy`'s config (a GridConfig for the grid, a DcaConfig for "dca")."""
    with transaction.atomic():
        bot = Bot.objects.create(
            owner=owner,
            exchange_account=account,
            name=name,
            symbol=config.symbol,
            strategy=strategy,
            config=registry.strategy_named(strategy).config_to_json(config),
            price_at_creation=price,
        )
        BotEvent.objects.create(
            bot=bot, kind=BotEventKind.STATUS, message="Created.", details={"status": "draft"}
        )
        publish(bot, "created", {"status": BotStatus.DRAFT})
    return bot


# Running and stopping ----------------------------------------------------------


def do_start_bot(bot: Bot) -> Bot:
    """A new run with fresh books: the grid is laid out again around the current price.
    Raises PlanLimitReached when the owner's plan has no slot left for another bot like it, and
    RiskLimitReached when the owner's own risk rules refuse it."""
    try:
        with transaction.atomic():
            entitlements.lock_user(bot.owner)
            entitlements.check_start_bot(bot)
            risk_checks.check_start(bot)
            _check_position_still_free(bot)
            bot = _start(bot)
    except entitlements.PlanLimitReached as exc:
        limits.start_refused(bot, limits.PLAN, exc.refusal.sentence, limit=exc.refusal.limit.key)
        raise
    except risk_checks.RiskLimitReached as exc:
        limits.start_refused(bot, limits.RISK, str(exc))
        raise
    _enqueue_tick(bot.pk)
    return bot


def _check_position_still_free(bot: Bot) -> None:
    """Under the owner's lock: of two futures bots started at once on one position, the second
    is refused (`check_start_bot` checked it before, without the lock)."""
    if bot.strategy != futures_grid.NAME:
        return
    holder = position_holder(bot.exchange_account, bot.symbol, exclude=bot)
    if holder is not None:
        raise risk_checks.RiskLimitReached(position_taken_message(holder, bot.exchange_account))


def _start(bot: Bot) -> Bot:
    return transition(
        bot,
        BotStatus.STARTING,
        allowed_from=(BotStatus.DRAFT, BotStatus.STOPPED, BotStatus.ERROR),
        message="Starting.",
        run=bot.run + 1,
        state=None,
        ledger=None,
        fills_cursor=None,
        price_at_start=None,
        status_reason="",
        consecutive_failures=0,
        restart_at=None,
        started_at=None,
        stopped_at=None,
        next_tick_at=timezone.now(),
    )


def do_stop_bot(bot: Bot, *, sell_base: bool = False, emergency: bool = False) -> Bot:
    """Cancel the bot's orders and, if asked, sell its base. Works while a tick is in flight:
    the tick re-checks the status before every send."""
    label = "Emergency stop" if emergency else "Stopping"
    bot = transition(
        bot,
        BotStatus.STOPPING,
        allowed_from=STOPPABLE,
        message=f"{label}{', selling the base' if sell_base else ''}.",
        sell_base_on_stop=sell_base,
        restart_at=None,
        next_tick_at=timezone.now(),
    )
    _enqueue_stop(bot.pk)
    return bot


def do_emergency_stop(bot: Bot, *, sell_base: bool = False) -> Bot:
    return do_stop_bot(bot, sell_base=sell_base, emergency=True)


def do_stop_all(owner: User, *, sell_base: bool = False) -> list[Bot]:
    stopped = []
    for bot in Bot.objects.owned_by(owner).filter(status__in=STOPPABLE):
        try:
            stopped.append(do_emergency_stop(bot, sell_base=sell_base))
        except InvalidTransition:
            continue  # it stopped by itself meanwhile
    return stopped


FORCE_STOPPABLE = (BotStatus.STOPPING, BotStatus.ERROR)


def check_force_stop(bot: Bot) -> None:
    """Force stop is for a stop that cannot finish (its venue is gone), not a way around Stop."""
    if bot.status not in FORCE_STOPPABLE:
        raise InvalidTransition(
            f"“{bot.name}” is {bot.get_status_display().lower()}; force stop is for a bot that is "
            "stopping or in error. Use Stop."
        )


def may_be_open(bot: Bot) -> list[Order]:
    """Orders the venue may still hold for this bot: sent and not known to have ended, or
    cancelled without the venue's confirmation."""
    sent = Q(status__in=LIVE_STATUSES) & ~Q(status=OrderStatus.PENDING, sent_at__isnull=True)
    return list(
        Order.objects.filter(Q(bot=bot) & (sent | Q(cancel_unconfirmed_since__isnull=False))).order_by(
            "-price", "id"
        )
    )


def do_force_stop(bot: Bot) -> Bot:
    """Mark the bot stopped without reaching its exchange. What may still be open there is
    marked unconfirmed: listed on the bot's page and cancelled when the venue answers
    (bots.tasks.settle_unconfirmed_cancels)."""
    check_force_stop(bot)
    venue = bot.exchange_account.get_exchange_display()
    with transaction.atomic():
        unsent = Order.objects.filter(bot=bot, status=OrderStatus.PENDING, sent_at__isnull=True)
        unsent.update(status=OrderStatus.CANCELLED, reject_reason="Stopped before it was sent.")
        open_there = may_be_open(bot)
        Order.objects.filter(
            pk__in=[order.pk for order in open_there], cancel_unconfirmed_since__isnull=True
        ).update(cancel_unconfirmed_since=timezone.now())
        count = len(open_there)
        left = (
            f" {count} order{'s' if count != 1 else ''} may still be open on {venue}; Gridwise cancels "
            f"{'them' if count != 1 else 'it'} when {venue} answers."
            if count
            else ""
        )
        bot = transition(
            bot,
            BotStatus.STOPPED,
            allowed_from=FORCE_STOPPABLE,
            message=f"Force stopped without reaching {venue}.{left}",
            stopped_at=timezone.now(),
            restart_at=None,
            status_reason="",
        )
    return bot


def do_exit_bot(bot: Bot, reason: grid.ExitReason) -> Bot:
    strategy = bot.runs
    config = strategy.config_from_json(bot.config)
    sell = strategy.exit_action(config, reason) is grid.ExitAction.SELL_BASE
    position = strategy.leverage(config) is not None
    BotEvent.objects.create(bot=bot, kind=BotEventKind.EXIT, message=_exit_message(reason, sell, position))
    bot = do_stop_bot(bot, sell_base=sell)
    webhooks.on_bot_exit(bot, reason.value)
    return bot


def _exit_message(reason: grid.ExitReason, sell: bool, position: bool = False) -> str:
    what = {
        grid.ExitReason.TAKE_PROFIT: "Take-profit price reached",
        grid.ExitReason.STOP_LOSS: "Stop-loss price reached",
        grid.ExitReason.MAX_DRAWDOWN: "Maximum drawdown reached",
        grid.ExitReason.LIQUIDATION_GUARD: "Liquidation price near",
    }[reason]
    if position:
        # A futures bot's take-profit and stop-loss may be by price or by its PnL.
        what = what.replace(" price reached", " reached")
        return f"{what}: stopping and {'closing' if sell else 'keeping'} the position."
    return f"{what}: stopping and {'selling' if sell else 'keeping'} the base."


def do_mark_stopped(bot: Bot) -> Bot:
    return transition(
        bot,
        BotStatus.STOPPED,
        allowed_from=(BotStatus.STOPPING,),
        message="Stopped.",
        stopped_at=timezone.now(),
    )


def do_fail_bot(bot: Bot, reason: str, *, transient: bool = False) -> Bot | None:
    """Put the bot in error with a reason the trader can act on; transient trouble retries with backoff."""
    bot.refresh_from_db()
    restart_at = None
    # A bot the trader was stopping is never restarted by itself, whatever went wrong.
    restartable = bot.status != BotStatus.STOPPING
    if transient and restartable and bot.auto_restart and bot.restart_attempts < MAX_AUTO_RESTARTS:
        restart_at = timezone.now() + timedelta(minutes=2**bot.restart_attempts)
    try:
        bot = transition(
            bot,
            BotStatus.ERROR,
            allowed_from=(BotStatus.STARTING, BotStatus.RUNNING, BotStatus.STOPPING),
            message=reason,
            status_reason=reason,
            restart_at=restart_at,
        )
    except InvalidTransition:
        return None
    BotEvent.objects.create(bot=bot, kind=BotEventKind.ERROR, message=reason)
    return bot


def do_auto_restart(bot: Bot) -> Bot:
    """Resume where it was if the grid was running, else start over."""
    resumed_status = BotStatus.RUNNING if bot.state else BotStatus.STARTING
    bot = transition(
        bot,
        resumed_status,
        allowed_from=(BotStatus.ERROR,),
        message=f"Restarting automatically (attempt {bot.restart_attempts + 1}).",
        restart_attempts=bot.restart_attempts + 1,
        restart_at=None,
        status_reason="",
        consecutive_failures=0,
        next_tick_at=timezone.now(),
    )
    BotEvent.objects.create(bot=bot, kind=BotEventKind.RESTART, message="Automatic restart.")
    _enqueue_tick(bot.pk)
    return bot


# Editing, cloning and deleting (the API and the pages) ------------------------------

# A bot's settings change, and the bot goes, only while nothing of it can trade: a draft, a
# stopped bot, or one an error halted before it held an order (its start failed, say). An
# errored bot with orders out must be stopped first, so that they are cancelled.
EDITABLE = (BotStatus.DRAFT, BotStatus.STOPPED)
COPY_SUFFIX = " (copy)"


def is_editable(status: str, live_orders: int) -> bool:
    return status in EDITABLE or (status == BotStatus.ERROR and not live_orders)


def check_editable(bot: Bot, doing: str = "editing it") -> None:
    """Raise `InvalidTransition`, saying what to do, unless `bot` may be edited or deleted now."""
    live = bot.orders.filter(status__in=LIVE_STATUSES).count() if bot.status == BotStatus.ERROR else 0
    if is_editable(bot.status, live):
        return
    if bot.status == BotStatus.ERROR:
        orders = f"{live} open order{'s' if live != 1 else ''}"
        raise InvalidTransition(
            f"“{bot.name}” stopped on an error with {orders} still on the exchange; "
            f"stop it first (that cancels them), then try {doing} again."
        )
    raise InvalidTransition(f"“{bot.name}” is {bot.get_status_display().lower()}; stop it before {doing}.")


def _locked(bot: Bot) -> Bot | None:
    return Bot.objects.select_for_update().filter(pk=bot.pk).first()


def do_update_bot(bot: Bot, account: ExchangeAccount, name: str, config: Any, price: Decimal) -> Bot:
    """Replace name, account and config while nothing of the bot can trade. An errored bot
    becomes stopped: an automatic restart would resume the old grid under the new settings."""
    with transaction.atomic():
        locked = _locked(bot)
        if locked is None:
            raise InvalidTransition(f"“{bot.name}” no longer exists.")
        check_editable(locked)
        fields: dict[str, Any] = {}
        if locked.status == BotStatus.ERROR:
            fields = {"status": BotStatus.STOPPED, "status_reason": "", "restart_at": None, "state": None}
        Bot.objects.filter(pk=bot.pk).update(
            exchange_account=account,
            name=name,
            symbol=config.symbol,
            config=bot.runs.config_to_json(config),  # the bot keeps its strategy
            price_at_creation=price,
            updated_at=timezone.now(),
            **fields,
        )
        BotEvent.objects.create(
            bot=bot,
            kind=BotEventKind.STATUS,
            message="Settings changed." + (" The error is cleared; the bot is stopped." if fields else ""),
            details={"status": BotStatus.STOPPED} if fields else {},
        )
        if fields:
            publish(bot, "status", {"status": BotStatus.STOPPED})
    bot.refresh_from_db()
    return bot


def copy_name(name: str) -> str:
    return name[: Bot._meta.get_field("name").max_length - len(COPY_SUFFIX)] + COPY_SUFFIX  # type: ignore[operator]


def do_clone_bot(bot: Bot) -> Bot:
    """A draft with `bot`'s account and settings, to review before it starts; `bot` is untouched."""
    return do_create_bot(
        bot.owner,
        bot.exchange_account,
        copy_name(bot.name),
        bot.strategy_config,
        bot.price_at_creation,
        strategy=bot.strategy,
    )


def do_delete_bot(bot: Bot) -> None:
    """Delete a bot nothing of which can trade, with its history (orders, fills, events and
    equity); refuse one that may hold live orders."""
    with transaction.atomic():
        locked = _locked(bot)
        if locked is None:
            return
        check_editable(locked, "deleting it")
        locked.delete()
