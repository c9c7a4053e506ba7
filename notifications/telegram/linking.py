"""Linking a Telegram chat to a trader by deep link: `https://t.me/<bot>?start=<token>`.

A token is random (256 bits), works once, for 15 minutes, and is stored only as its SHA-256:
whoever reads the database cannot link a chat. Every refusal reads the same, so a guess learns
nothing about which tokens exist.
"""

from __future__ import annotations

import hashlib
import re
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from accounts.models import User
from notifications.models import TelegramLink, TelegramLinkToken
from notifications.telegram.client import bot_username

TOKEN_TTL = timedelta(minutes=15)
# Telegram passes at most 64 characters of [A-Za-z0-9_-] as a /start parameter.
TOKEN_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
TOKEN_BYTES = 32  # 43 characters in URL-safe base64


class LinkRefused(Exception):
    """The token is unknown, used or expired; nothing was bound."""


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def do_create_token(user_id: int) -> str:
    """A fresh token for the trader; their earlier unused ones stop working."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    now = timezone.now()
    with transaction.atomic():
        TelegramLinkToken.objects.filter(user_id=user_id, used_at__isnull=True).delete()
        TelegramLinkToken.objects.create(
            user_id=user_id, token_hash=hash_token(token), created_at=now, expires_at=now + TOKEN_TTL
        )
    return token


def deep_link(token: str) -> str:
    return f"https://t.me/{bot_username()}?start={token}"


def do_link(token: str, chat_id: int, username: str) -> User:
    """Binds the chat to the token's trader, once; a chat or trader linked before is moved."""
    if not TOKEN_PATTERN.fullmatch(token):
        raise LinkRefused
    now = timezone.now()
    with transaction.atomic():
        row = (
            TelegramLinkToken.objects.select_for_update()
            .select_related("user")
            .filter(token_hash=hash_token(token))
            .first()
        )
        if row is None or row.used_at is not None or row.expires_at <= now:
            raise LinkRefused
        row.used_at = now
        row.save(update_fields=["used_at"])
        # One chat per trader and one trader per chat: the newest proof of ownership wins.
        TelegramLink.objects.filter(chat_id=chat_id).delete()
        TelegramLink.objects.filter(user_id=row.user_id).delete()
        TelegramLink.objects.create(
            user_id=row.user_id, chat_id=chat_id, username=username[:64], linked_at=now
        )
    return row.user


def do_unlink_user(user_id: int) -> bool:
    deleted, _ = TelegramLink.objects.filter(user_id=user_id).delete()
    return bool(deleted)


def do_unlink_chat(chat_id: int) -> bool:
    deleted, _ = TelegramLink.objects.filter(chat_id=chat_id).delete()
    return bool(deleted)


def link_of(user_id: int) -> TelegramLink | None:
    return TelegramLink.objects.filter(user_id=user_id).first()


def is_reachable(user_id: int) -> bool:
    """Telegram is set up on this server and the trader linked a chat."""
    from notifications.telegram.client import is_configured

    return is_configured() and TelegramLink.objects.filter(user_id=user_id).exists()
