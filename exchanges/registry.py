"""From a stored account to the `Exchange` that trades on it."""

from __future__ import annotations

from typing import Any

from django.conf import settings

from exchanges.base import Exchange, PermissionDenied
from exchanges.credentials import read_credentials
from exchanges.models import Environment, ExchangeAccount, ExchangeName
from exchanges.paper.exchange import PaperExchange

# A stop's client: one short try per call. A stop must answer within seconds even with the
# venue down; what it could not confirm is swept for later (bots.tasks.settle_unconfirmed_cancels).
FAIL_FAST_TIMEOUT = 2.0


class VenueNotAllowed(PermissionDenied):
    """Our own server's policy forbids this venue address; the venue was not contacted."""


def exchange_for_account(
    account: ExchangeAccount, *, timeout: float | None = None, fail_fast: bool = False
) -> Exchange:
    """The venue behind `account`. With `timeout`, one try with a bounded wait (a page's quick
    read); `fail_fast` is that with FAIL_FAST_TIMEOUT (the stop path)."""
    if fail_fast:
        timeout = FAIL_FAST_TIMEOUT
    if account.exchange == ExchangeName.PAPER:
        if account.paper_account is None:
            raise ValueError(f"Paper exchange account {account.pk} has no paper account.")
        return PaperExchange(account.paper_account)
    if account.exchange == ExchangeName.BYBIT:
        # Imported here so this module loads without pybit's import cost, and before
        # the adapter's branch lands.
        from exchanges.bybit.adapter import BybitExchange

        if account.environment == Environment.CUSTOM and not settings.ALLOW_CUSTOM_EXCHANGE_URLS:
            raise VenueNotAllowed("Custom exchange addresses are turned off on this server.")
        keys = read_credentials(account)
        # One try within `timeout`: a retry would double the wait it bounds.
        quick: dict[str, Any] = {"timeout": timeout, "read_retries": 0} if timeout is not None else {}
        return BybitExchange(
            keys.api_key,
            keys.api_secret,
            environment=account.environment,
            base_url=account.base_url or None,
            **quick,
        )
    raise ValueError(f"No exchange adapter for {account.exchange!r}.")
