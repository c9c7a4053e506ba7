"""Price alerts: "BTCUSDT above 70000 on this account" fires once, through the chosen channels.

Prices are read where the dashboard reads them: a paper account's from the paper market (one
query for every symbol), a live venue's from its ticker, once per account and symbol per check.
A beat task checks (`check_price_alerts`); no tick waits on it. An alert is claimed by a
conditional UPDATE on `fired_at`, so two checks racing fire it once.
"""

from __future__ import annotations

import logging
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from exchanges.base import ExchangeError
from exchanges.models import ExchangeAccount, ExchangeName
from exchanges.paper.models import PaperMarket
from exchanges.registry import exchange_for_account
from notifications.events import Kind
from notifications.models import AlertDirection, PriceAlert
from notifications.record import notify_after_commit
from trading.numbers import plain

logger = logging.getLogger(__name__)

# A live venue's ticker, read by a beat task: a venue slower than this is skipped until the next check.
TICKER_TIMEOUT = 5.0
MAX_ALERTS_PER_USER = 100

Pair = tuple[int, str]  # (exchange account id, symbol)


def price_of(account: ExchangeAccount, symbol: str) -> Decimal:
    """`symbol`'s current price on `account`'s venue. Raises ExchangeError."""
    return _prices({(account.pk, symbol)}, {account.pk: account}, raise_errors=True)[(account.pk, symbol)]


def _prices(
    pairs: set[Pair], accounts: dict[int, ExchangeAccount], *, raise_errors: bool = False
) -> dict[Pair, Decimal]:
    """The current price of each pair that has one; a venue that fails is logged and left out."""
    paper = {(pk, symbol) for pk, symbol in pairs if accounts[pk].exchange == ExchangeName.PAPER}
    symbols = {symbol for _, symbol in paper}
    market = dict(PaperMarket.objects.filter(symbol__in=symbols).values_list("symbol", "last_price"))
    found: dict[Pair, Decimal] = {pair: market[pair[1]] for pair in paper if pair[1] in market}
    if raise_errors and paper and not found:
        raise ExchangeError(f"The paper market has no price for {next(iter(symbols))} yet.")
    for pk, symbol in sorted(pairs - paper):
        try:
            ticker = exchange_for_account(accounts[pk], timeout=TICKER_TIMEOUT).ticker(symbol)
        except ExchangeError:
            if raise_errors:
                raise
            logger.warning("Price alerts: no price for %s on account %s", symbol, pk, exc_info=True)
            continue
        found[(pk, symbol)] = ticker.last
    return found


def direction_words(direction: str) -> str:
    return "above" if direction == AlertDirection.ABOVE else "below"


def describe(alert: PriceAlert) -> str:
    return f"{alert.symbol} {direction_words(alert.direction)} {plain(alert.price)}"


# Changing alerts (the page and the API) ---------------------------------------------


def do_create_alert(
    user: User, values: dict[str, Any], *, current_price: Decimal | None = None
) -> PriceAlert:
    """Saves the alert; one already met at `current_price` (the trader confirmed) fires at once."""
    with transaction.atomic():
        alert = PriceAlert.objects.create(user=user, **values)
        if current_price is not None and alert.is_met(current_price):
            fire(alert.pk, current_price)
    alert.refresh_from_db()
    return alert


def do_rearm_alert(alert: PriceAlert) -> PriceAlert:
    """Arms a fired alert again; its next firing is a new notification."""
    PriceAlert.objects.filter(pk=alert.pk).update(
        fired_at=None, fired_price=None, armed_count=alert.armed_count + 1
    )
    alert.refresh_from_db()
    return alert


def do_delete_alert(alert: PriceAlert) -> None:
    alert.delete()


# Firing ---------------------------------------------------------------------------


def fire(alert_id: int, price: Decimal, *, now: datetime | None = None) -> bool:
    """Claims the alert (only if still armed) and records its notification after commit."""
    now = now or timezone.now()
    with transaction.atomic():
        claimed = PriceAlert.objects.filter(pk=alert_id, fired_at__isnull=True).update(
            fired_at=now, fired_price=price
        )
        if not claimed:
            return False  # fired already: by another check, or just now
        alert = PriceAlert.objects.select_related("exchange_account").get(pk=alert_id)
        venue = alert.exchange_account.label
        side = direction_words(alert.direction)
        body = f"{alert.symbol} is at {plain(price)} on {venue}: {side} your {plain(alert.price)}."
        if alert.note:
            body += f" Your note: {alert.note}"
        notify_after_commit(
            alert.user_id,
            Kind.PRICE_ALERT,
            f"price-alert:{alert.pk}:{alert.armed_count}",
            title=f"Price alert: {describe(alert)}",
            body=body,
            link=reverse("price_alerts"),
            payload={
                "alert_id": alert.pk,
                "symbol": alert.symbol,
                "direction": alert.direction,
                "price": str(alert.price),
                "price_now": str(price),
                "exchange_account": alert.exchange_account_id,
            },
            channels=list(alert.channels) or None,
        )
    return True


def check_price_alerts(*, now: datetime | None = None) -> int:
    """Fires every armed alert its venue's price now meets; returns how many fired."""
    pairs = set(PriceAlert.objects.armed().values_list("exchange_account_id", "symbol").distinct())
    if not pairs:
        return 0
    accounts = ExchangeAccount.objects.in_bulk({pk for pk, _ in pairs})
    prices = _prices(pairs, accounts)
    fired = 0
    for (account_id, symbol), price in prices.items():
        met = (
            PriceAlert.objects.armed()
            .filter(exchange_account_id=account_id, symbol=symbol)
            .filter(
                Q(direction=AlertDirection.ABOVE, price__lte=price)
                | Q(direction=AlertDirection.BELOW, price__gte=price)
            )
            .values_list("pk", flat=True)
        )
        fired += sum(fire(pk, price, now=now) for pk in list(met))
    return fired
