"""Personal API tokens: issuing (the full token is returned once), finding, revoking."""

from __future__ import annotations

import hashlib
import secrets
import string
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from accounts.audit import record_event
from accounts.models import ApiScope, ApiToken, AuditAction, User

TOKEN_PREFIX = "gw_"  # noqa: S105 - a public marker, not a secret
PREFIX_CHARS = 8  # after "gw_": enough to tell a user's tokens apart at a glance
SECRET_CHARS = 40  # 62**40, about 238 bits
_ALPHABET = string.ascii_letters + string.digits
# Writing last_used_at on every request would make every read a write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
SCOPE_SETS: dict[str, tuple[str, ...]] = {
    "read": (ApiScope.READ,),
    "read,trade": (ApiScope.READ, ApiScope.TRADE),
}


class TokenError(ValueError):
    """Bad input for a new token; the message says what to change."""


@dataclass(frozen=True)
class IssuedToken:
    token: ApiToken
    plaintext: str  # shown once, never stored


def hash_token(plaintext: str) -> str:
    return hashlib.sha256(plaintext.encode()).hexdigest()


def check_scopes(scopes: Iterable[str]) -> list[str]:
    """`read` alone, or `read` and `trade` (`trade` implies `read`)."""
    wanted = {scope.strip().lower() for scope in scopes if scope.strip()}
    unknown = wanted - {ApiScope.READ.value, ApiScope.TRADE.value}
    if unknown:
        raise TokenError(f"Unknown scope: {', '.join(sorted(unknown))}. Use read, or read,trade.")
    if not wanted:
        raise TokenError("Choose at least the read scope.")
    if ApiScope.TRADE in wanted:
        wanted.add(ApiScope.READ)
    return [scope for scope in (ApiScope.READ.value, ApiScope.TRADE.value) if scope in wanted]


def check_token_input(name: str, scopes: Iterable[str], expires_at: datetime | None) -> tuple[str, list[str]]:
    name = name.strip()
    if not name:
        raise TokenError("Give the token a name, such as the script that will use it.")
    if len(name) > ApiToken._meta.get_field("name").max_length:  # type: ignore[operator]
        raise TokenError("Keep the name under 80 characters.")
    if expires_at is not None and expires_at <= timezone.now():
        raise TokenError("The expiry must be in the future.")
    return name, check_scopes(scopes)


def do_create_token(
    owner: User,
    name: str,
    scopes: Iterable[str],
    *,
    expires_at: datetime | None = None,
    request: HttpRequest | None = None,
) -> IssuedToken:
    name, checked = check_token_input(name, scopes, expires_at)
    public = "".join(secrets.choice(_ALPHABET) for _ in range(PREFIX_CHARS))
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(SECRET_CHARS))
    plaintext = f"{TOKEN_PREFIX}{public}_{secret}"
    with transaction.atomic():
        token = ApiToken.objects.create(
            owner=owner,
            name=name,
            prefix=f"{TOKEN_PREFIX}{public}",
            token_hash=hash_token(plaintext),
            scopes=checked,
            expires_at=expires_at,
        )
        record_event(
            AuditAction.API_TOKEN_CREATED,
            request=request,
            actor=owner,
            details=_audit_details(token),
        )
    return IssuedToken(token, plaintext)


def do_revoke_token(token: ApiToken, *, request: HttpRequest | None = None) -> bool:
    """Revoke once; False if it was already revoked."""
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            record_event(
                AuditAction.API_TOKEN_REVOKED,
                request=request,
                actor=token.owner,
                details=_audit_details(token),
            )
    token.refresh_from_db()
    return bool(revoked)


def _audit_details(token: ApiToken) -> dict[str, object]:
    return {
        "token_id": token.pk,
        "prefix": token.prefix,
        "name": token.name,
        "scopes": token.scopes,
        "expires_at": token.expires_at.isoformat() if token.expires_at else None,
    }


def find_usable_token(plaintext: str) -> ApiToken | None:
    if not plaintext.startswith(TOKEN_PREFIX):
        return None
    return ApiToken.objects.usable().select_related("owner").filter(token_hash=hash_token(plaintext)).first()


def touch(token: ApiToken) -> None:
    """Record use at most once per LAST_USED_RESOLUTION: a conditional UPDATE, no read."""
    now = timezone.now()
    stale = now - LAST_USED_RESOLUTION
    ApiToken.objects.filter(Q(last_used_at__isnull=True) | Q(last_used_at__lt=stale), pk=token.pk).update(
        last_used_at=now
    )
