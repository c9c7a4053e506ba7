"""Adding, re-checking and deleting exchange accounts, each write with its audit event.

`check_key` talks to the venue and is called outside any transaction, so a
slow exchange never holds a database transaction open. The `do_*` functions
own their transactions.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.http import HttpRequest

from accounts.audit import record_event
from accounts.models import User
from billing import entitlements
from config.wording import wait_phrase
from exchanges.base import (
    AuthError,
    ExchangeError,
    ExchangeUnavailable,
    KeyPermissions,
    PermissionDenied,
    RateLimited,
)
from exchanges.credentials import CredentialsUnreadable
from exchanges.models import LABEL_CONSTRAINT, CheckOutcome, Environment, ExchangeAccount, ExchangeName
from exchanges.paper.service import open_paper_account
from exchanges.policy import review_key
from exchanges.registry import VenueNotAllowed, exchange_for_account

logger = logging.getLogger(__name__)

UNREADABLE_KEY = (
    "Gridwise can no longer read its stored copy of this key. Delete this account and add the key again."
)


class AuditAction(StrEnum):
    ADDED = "exchange_account_added"
    CHECKED = "exchange_account_checked"
    DELETED = "exchange_account_deleted"


@dataclass(frozen=True)
class KeyCheck:
    """One conversation with the venue about a key, judged by the policy."""

    outcome: CheckOutcome
    errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    permissions: KeyPermissions | None = None
    # The form field the errors belong to; None for the form as a whole.
    field: str | None = None

    @property
    def ok(self) -> bool:
        return self.outcome == CheckOutcome.OK

    @property
    def messages(self) -> list[str]:
        return [*self.errors, *self.warnings]


def check_key(account: ExchangeAccount) -> KeyCheck:
    """Ask the venue what the key may do and apply the policy. Never raises ExchangeError."""
    try:
        permissions = exchange_for_account(account).check_api_key()
    except ExchangeError as exc:
        return _failed_check(account, exc)
    except CredentialsUnreadable:
        logger.error("Exchange account %s: no key in CREDENTIALS_KEYS decrypts its credentials.", account.pk)
        return KeyCheck(CheckOutcome.REFUSED, (UNREADABLE_KEY,))
    review = review_key(permissions, issued_by_venue=account.needs_keys)
    outcome = CheckOutcome.OK if review.accepted else CheckOutcome.REFUSED
    return KeyCheck(outcome, review.errors, review.warnings, permissions)


def _failed_check(account: ExchangeAccount, exc: ExchangeError) -> KeyCheck:
    # Only the class and the venue's code are logged: messages may quote request details.
    logger.info("Key check for exchange account %s failed: %s %s", account.pk, type(exc).__name__, exc.code)
    venue = account.get_exchange_display()
    if isinstance(exc, VenueNotAllowed):
        return KeyCheck(CheckOutcome.REFUSED, (exc.message,), field="venue")
    if isinstance(exc, AuthError):
        message = (
            f"{venue} did not accept this API key and secret. Check that you copied both in full, "
            f"that the key has not expired, and that it was made for {account.get_environment_display()}."
        )
        return KeyCheck(CheckOutcome.REFUSED, (message,), field="api_key")
    if isinstance(exc, PermissionDenied):
        message = (
            f"{venue} refused this key. If you restricted it to IP addresses, add the address of "
            "the server running Gridwise, then try again."
        )
        return KeyCheck(CheckOutcome.REFUSED, (message,), field="api_key")
    if isinstance(exc, RateLimited):
        wait = wait_phrase(exc.retry_after)
        message = f"{venue} is limiting requests right now. Nothing was saved; try again in {wait}."
        return KeyCheck(CheckOutcome.UNAVAILABLE, (message,))
    if isinstance(exc, ExchangeUnavailable):
        message = f"{exc.message} Nothing was saved; try again in a minute."
        return KeyCheck(CheckOutcome.UNAVAILABLE, (message,))
    message = f"{venue} answered with an unexpected error. Nothing was saved; try again later."
    return KeyCheck(CheckOutcome.UNAVAILABLE, (message,))


def _audit_details(account: ExchangeAccount, **extra: Any) -> dict[str, Any]:
    """Everything an investigator needs and nothing that opens the account."""
    return {
        "account_id": account.pk,
        "label": account.label,
        "exchange": account.exchange,
        "environment": account.environment,
        "key_last4": account.key_last4,
        **extra,
    }


def check_new_account(account: ExchangeAccount) -> KeyCheck:
    """A keyed account is checked with its venue before anything is saved."""
    if not account.needs_keys:
        # A paper account has nothing to check until it exists; do_add_account checks it.
        return KeyCheck(CheckOutcome.OK)
    return check_key(account)


def do_add_account(request: HttpRequest | None, account: ExchangeAccount, check: KeyCheck) -> ExchangeAccount:
    """Save an account whose check passed. Raises ValidationError if its label was just taken,
    PlanLimitReached when the plan has no room for another account."""
    if not check.ok:
        raise ValueError("Only an accepted key is saved.")
    try:
        with transaction.atomic():
            entitlements.lock_user(account.owner)
            entitlements.check_add_exchange_account(account.owner)
            if account.exchange == ExchangeName.PAPER:
                check = _open_paper_account(account)
            account.record_check(check.outcome, check.messages, check.permissions)
            account.save()
            details = _audit_details(account, outcome=check.outcome)
            record_event(AuditAction.ADDED, request=request, actor=account.owner, details=details)
    except IntegrityError as exc:
        # Two tabs adding the same label at once: the unique constraint decides.
        if LABEL_CONSTRAINT not in str(exc):
            raise
        raise ValidationError(
            {"label": f"You already have an exchange account called “{account.label}”."}
        ) from exc
    return account


def _open_paper_account(account: ExchangeAccount) -> KeyCheck:
    account.paper_account = open_paper_account(account.label)
    check = check_key(account)
    if not check.ok:
        raise ValueError(f"The paper exchange refused its own account: {check.errors}")
    return check


def do_record_check(request: HttpRequest, account: ExchangeAccount, check: KeyCheck) -> None:
    with transaction.atomic():
        account.record_check(check.outcome, check.messages, check.permissions)
        account.save(
            update_fields=["check_outcome", "check_messages", "last_checked_at", "permissions", "updated_at"]
        )
        details = _audit_details(account, outcome=check.outcome)
        record_event(AuditAction.CHECKED, request=request, actor=account.owner, details=details)


class AccountInUse(Exception):
    """Bots still use the account; the message says how many and what to do."""


def check_can_delete_account(account: ExchangeAccount) -> None:
    """Raises AccountInUse while any bot (in any state) uses the account: its orders, fills
    and history hang off the account, so they go first."""
    count = account.bots.count()
    if count:
        bots = "1 bot" if count == 1 else f"{count} bots"
        raise AccountInUse(
            f"“{account.label}” has {bots}; delete them or move them to another account first."
        )


def do_delete_account(request: HttpRequest, account: ExchangeAccount) -> None:
    """Raises AccountInUse, also when a bot was added between the check and the delete."""
    check_can_delete_account(account)
    try:
        with transaction.atomic():
            details = _audit_details(account, outcome="deleted")
            paper_account = account.paper_account
            account.delete()
            if paper_account is not None:
                paper_account.delete()
            record_event(AuditAction.DELETED, request=request, actor=account.owner, details=details)
    except ProtectedError:
        check_can_delete_account(account)
        raise


DEMO_LABEL = "Paper demo"


def do_open_demo_account(owner: User) -> ExchangeAccount:
    """The embedded shape's demo paper account; seeding again keeps the existing one."""
    existing = ExchangeAccount.objects.owned_by(owner).filter(label__iexact=DEMO_LABEL).first()
    if existing is not None:
        return existing
    account = ExchangeAccount(
        owner=owner, label=DEMO_LABEL, exchange=ExchangeName.PAPER, environment=Environment.PAPER
    )
    return do_add_account(None, account, check_new_account(account))
