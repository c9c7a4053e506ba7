"""An account's available balances for a page: a quick read that never holds the page up.

A slow or failing venue answers "unknown" with the reason, so the page still renders and says
why the figures are missing; the engine checks the funds again when a bot starts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from decimal import Decimal

from django.core.cache import cache

from exchanges.base import ExchangeError, ExchangeUnavailable, RateLimited
from exchanges.models import ExchangeAccount
from exchanges.registry import exchange_for_account

logger = logging.getLogger(__name__)

BALANCES_TIMEOUT = 3.0  # seconds: longer and the page feels broken


@dataclass(frozen=True)
class AccountBalances:
    """Free amounts by asset, or `known` False with the reason in words."""

    free: dict[str, Decimal] = field(default_factory=dict)
    known: bool = True
    reason: str = ""

    def available(self, asset: str) -> Decimal:
        return self.free.get(asset, Decimal(0))

    @property
    def held(self) -> list[tuple[str, Decimal]]:
        """The assets with something free, by name."""
        return sorted((asset, amount) for asset, amount in self.free.items() if amount > 0)


def unknown(reason: str) -> AccountBalances:
    return AccountBalances(known=False, reason=reason)


def available_balances(
    account: ExchangeAccount, *, timeout: float = BALANCES_TIMEOUT, cache_seconds: int = 0
) -> AccountBalances:
    """What `account` holds free to trade. `cache_seconds` lets a page that redraws on every
    keystroke reuse a recent answer; a decision about money reads afresh (the default)."""
    key = f"balances:{account.pk}"
    if cache_seconds:
        found = cache.get(key)
        if isinstance(found, AccountBalances):
            return found
    try:
        balances = exchange_for_account(account, timeout=timeout).balances()
    except ExchangeError as exc:
        return unknown(_reason(account, exc, timeout))
    answer = AccountBalances(free={asset: balance.free for asset, balance in balances.items()})
    if cache_seconds:
        cache.set(key, answer, cache_seconds)
    return answer


def _reason(account: ExchangeAccount, exc: ExchangeError, timeout: float) -> str:
    venue = account.get_exchange_display()
    if isinstance(exc, ExchangeUnavailable):
        return f"{venue} did not answer within {timeout:g} seconds."
    if isinstance(exc, RateLimited):
        return f"{venue} is rate limiting requests; balances will show again shortly."
    logger.info("Balances of exchange account %s unreadable: %s", account.pk, type(exc).__name__)
    return f"{venue} refused to show the balances: {exc.message}"
