"""Checks that stop an unsafe production configuration from starting.

Pure functions over plain values, so the settings module can call them
before Django is set up and tests can call them directly.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass

INSECURE_SECRET_KEY_PREFIX = "django-insecure-"  # noqa: S105 - a marker, not a secret
MIN_SECRET_KEY_LENGTH = 50
FERNET_KEY_BYTES = 32
GENERATE_CREDENTIALS_KEY = (
    'python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
)


@dataclass(frozen=True)
class DeploymentSettings:
    debug: bool
    secret_key: str
    allowed_hosts: list[str]
    database_configured: bool
    redis_configured: bool
    email_configured: bool
    credentials_keys: list[str]


def is_fernet_key(value: str) -> bool:
    """A Fernet key is 32 bytes in URL-safe base64; checked here without importing cryptography."""
    try:
        return len(base64.urlsafe_b64decode(value.encode("ascii"))) == FERNET_KEY_BYTES
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return False


def production_problems(deployment: DeploymentSettings) -> list[str]:
    """Every reason this configuration must not serve real users."""
    if deployment.debug:
        return []
    problems: list[str] = []
    if deployment.secret_key.startswith(INSECURE_SECRET_KEY_PREFIX):
        problems.append("SECRET_KEY is the built-in development key; set SECRET_KEY.")
    elif len(deployment.secret_key) < MIN_SECRET_KEY_LENGTH or len(set(deployment.secret_key)) < 5:
        problems.append(f"SECRET_KEY is too weak; use at least {MIN_SECRET_KEY_LENGTH} random characters.")
    if not deployment.allowed_hosts:
        problems.append("ALLOWED_HOSTS is empty; list the host names this site answers to.")
    elif "*" in deployment.allowed_hosts:
        problems.append("ALLOWED_HOSTS contains '*'; list the real host names.")
    if not deployment.database_configured:
        problems.append("DATABASE_URL is unset; production needs PostgreSQL.")
    if not deployment.redis_configured:
        problems.append("REDIS_URL is unset; production needs Redis for live updates and tasks.")
    if not deployment.email_configured:
        problems.append("EMAIL_URL is unset, so verification mail would only be printed.")
    problems.extend(_credentials_key_problems(deployment.credentials_keys))
    return problems


def _credentials_key_problems(keys: list[str]) -> list[str]:
    # Without its own keys, exchange credentials would be encrypted with a key
    # derived from SECRET_KEY: one leaked setting would expose every API secret.
    if not keys:
        return [
            "CREDENTIALS_KEYS is unset; exchange API keys need their own encryption key. "
            f"Make one with: {GENERATE_CREDENTIALS_KEY}"
        ]
    return [
        f"CREDENTIALS_KEYS entry {position} is not a Fernet key (32 bytes, URL-safe base64)."
        for position, key in enumerate(keys, start=1)
        if not is_fernet_key(key)
    ]
