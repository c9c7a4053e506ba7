"""Exchange credentials at rest: Fernet tokens, never plaintext.

`CREDENTIALS_KEYS` lists Fernet keys; the first encrypts and every one
decrypts, so a new key goes first and the old ones stay until
`manage.py rotate_credentials` has re-encrypted everything.
"""

from __future__ import annotations

import base64
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

if TYPE_CHECKING:
    from exchanges.models import ExchangeAccount

_DERIVED_KEY_INFO = b"gridwise exchange credentials v1"

__all__ = ["Credentials", "CredentialsUnreadable", "decrypt", "encrypt", "read_credentials", "rotate"]


class CredentialsUnreadable(Exception):
    """No configured key decrypts this token: a key was removed too early."""


@dataclass(frozen=True)
class Credentials:
    # repr=False keeps them out of tracebacks, debug pages and log lines.
    api_key: str = field(repr=False)
    api_secret: str = field(repr=False)


def derived_key(secret_key: str) -> bytes:
    """The zero-config key: HKDF over SECRET_KEY, so a debug setup needs no extra setting."""
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_DERIVED_KEY_INFO)
    return base64.urlsafe_b64encode(hkdf.derive(secret_key.encode()))


def _cipher() -> MultiFernet:
    # Built per call rather than cached, so rotated settings take effect at once.
    keys: list[str | bytes] = [*settings.CREDENTIALS_KEYS] or [derived_key(settings.SECRET_KEY)]
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(plaintext: str) -> str:
    return _cipher().encrypt(plaintext.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _cipher().decrypt(token.encode("ascii")).decode()
    except InvalidToken as exc:
        raise CredentialsUnreadable("No key in CREDENTIALS_KEYS decrypts these credentials.") from exc


def rotate(token: str) -> str:
    """The same plaintext, encrypted under the first key."""
    try:
        return _cipher().rotate(token.encode("ascii")).decode("ascii")
    except InvalidToken as exc:
        raise CredentialsUnreadable("No key in CREDENTIALS_KEYS decrypts these credentials.") from exc


def read_credentials(account: ExchangeAccount) -> Credentials:
    """Decrypt an account's key and secret.

    A function rather than a model attribute, so no template can reach it.
    """
    return Credentials(decrypt(account.api_key_encrypted), decrypt(account.api_secret_encrypted))
