"""Checks that stop an unsafe production configuration from starting.

Pure functions over plain values, so the settings module can call them
before Django is set up and tests can call them directly.
"""

from __future__ import annotations

from dataclasses import dataclass

INSECURE_SECRET_KEY_PREFIX = "django-insecure-"  # noqa: S105 - a marker, not a secret
MIN_SECRET_KEY_LENGTH = 50


@dataclass(frozen=True)
class DeploymentSettings:
    debug: bool
    secret_key: str
    allowed_hosts: list[str]
    database_configured: bool
    redis_configured: bool
    email_configured: bool


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
    return problems
