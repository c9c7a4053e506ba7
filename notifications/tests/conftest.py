from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from notifications.tests.smtp import Inbox, smtp_server


@pytest.fixture
def inbox(settings: Any) -> Iterator[Inbox]:
    """Django's SMTP backend pointed at a local aiosmtpd server."""
    with smtp_server() as (received, port):
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = "127.0.0.1"
        settings.EMAIL_PORT = port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 5
        yield received
