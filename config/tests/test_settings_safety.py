from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from config.safety import DeploymentSettings, production_problems

ROOT = Path(__file__).resolve().parents[2]
STRONG_KEY = "k3y-" + "".join(chr(ord("a") + (i * 7) % 26) for i in range(60))
# Two Fernet keys (32 bytes each, URL-safe base64): the rotation case.
CREDENTIALS_KEYS = "Z3JpZHdpc2UtdGVzdC1jcmVkZW50aWFscy1rZXktMDE=,Z3JpZHdpc2UtdGVzdC1jcmVkZW50aWFscy1rZXktMDI="
SAFE_ENV = {
    "DEBUG": "false",
    "SECRET_KEY": STRONG_KEY,
    "ALLOWED_HOSTS": "gridwise.example.com",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/gridwise",
    "REDIS_URL": "redis://127.0.0.1:6379/0",
    "EMAIL_URL": "smtp://mailer:pw@smtp.example.com:587",
    "CREDENTIALS_KEYS": CREDENTIALS_KEYS,
}


def import_settings(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "import config.settings"],
        cwd=ROOT,
        env={"PATH": "/usr/bin:/bin", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("override", "complaint"),
    [
        ({"SECRET_KEY": ""}, "SECRET_KEY is the built-in development key"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY is too weak"),
        ({"ALLOWED_HOSTS": "*"}, "ALLOWED_HOSTS contains '*'"),
        ({"ALLOWED_HOSTS": ""}, "ALLOWED_HOSTS is empty"),
        ({"EMAIL_URL": ""}, "EMAIL_URL is unset"),
        ({"DATABASE_URL": ""}, "DATABASE_URL is unset"),
        ({"CREDENTIALS_KEYS": ""}, "CREDENTIALS_KEYS is unset"),
        (
            {"CREDENTIALS_KEYS": f"{CREDENTIALS_KEYS},not-a-fernet-key"},
            "CREDENTIALS_KEYS entry 3 is not a Fernet key",
        ),
    ],
)
def test_unsafe_production_settings_refuse_to_start(override: dict[str, str], complaint: str) -> None:
    env = {key: value for key, value in {**SAFE_ENV, **override}.items() if value}
    result = import_settings(env)
    assert result.returncode != 0
    assert "Refusing to start with an unsafe production configuration" in result.stderr
    assert complaint in result.stderr


def test_safe_production_settings_start() -> None:
    result = import_settings(SAFE_ENV)
    assert result.returncode == 0, result.stderr


def test_zero_config_starts_in_debug_with_the_development_key() -> None:
    assert import_settings({}).returncode == 0


def test_debug_mode_tolerates_development_values() -> None:
    development = DeploymentSettings(
        debug=True,
        secret_key="django-insecure-x",
        allowed_hosts=[],
        database_configured=False,
        redis_configured=False,
        email_configured=False,
        credentials_keys=[],
    )
    assert production_problems(development) == []
