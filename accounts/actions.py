"""Writes to accounts, each in one transaction with its audit event."""

from __future__ import annotations

from django.db import transaction
from django.http import HttpRequest
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import twofactor
from accounts.audit import record_event
from accounts.models import AuditAction, User


def do_enable_two_factor(request: HttpRequest, device: TOTPDevice) -> list[str]:
    """Confirm `device` (already checked with a first code); return the backup codes."""
    with transaction.atomic():
        codes = twofactor.enable_two_factor(device)
        record_event(AuditAction.TWO_FACTOR_ENABLED, request=request, details={"device": device.name})
    # The code just entered proves the second factor for this session too.
    otp_login(request, device)
    return codes


def do_disable_two_factor(request: HttpRequest, user: User) -> None:
    with transaction.atomic():
        twofactor.disable_two_factor(user)
        record_event(AuditAction.TWO_FACTOR_DISABLED, request=request, actor=user)


def do_regenerate_backup_codes(request: HttpRequest, user: User) -> list[str]:
    with transaction.atomic():
        codes = twofactor.replace_backup_codes(user)
        record_event(AuditAction.BACKUP_CODES_REGENERATED, request=request, actor=user)
    return codes
