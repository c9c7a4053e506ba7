from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from django.db import transaction

from exchanges.paper.instruments import DEFAULT_BALANCES
from exchanges.paper.models import PaperAccount, PaperBalance


@transaction.atomic
def open_paper_account(
    label: str, balances: Mapping[str, Decimal] | None = None, *, api_key: str | None = None
) -> PaperAccount:
    """A new paper account with starting balances (10,000 USDT by default).

    With an `api_key` the call is idempotent: the simulator reuses the
    account that key already has, balances untouched.
    """
    if api_key is not None:
        existing = PaperAccount.objects.filter(api_key=api_key).first()
        if existing is not None:
            return existing
    account = PaperAccount.objects.create(label=label, api_key=api_key)
    starting = DEFAULT_BALANCES if balances is None else balances
    PaperBalance.objects.bulk_create(
        PaperBalance(account=account, asset=asset, free=amount) for asset, amount in starting.items()
    )
    return account
