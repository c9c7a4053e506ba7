"""Two-factor authentication rules on top of django-otp.

A user has 2FA when they own a confirmed TOTP device. Backup codes are
django-otp static tokens: each one is deleted when used, so it works once.
TOTP codes cannot be replayed (django-otp remembers the last time step) and
wrong codes are throttled with a growing delay.
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import segno
from django.utils import timezone
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User

BACKUP_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
BACKUP_DEVICE_NAME = "Backup codes"
_SEPARATORS = re.compile(r"[\s-]+")


@dataclass(frozen=True)
class CodeCheck:
    device: Device | None
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.device is not None


def confirmed_totp_device(user: User) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def has_two_factor(user: User) -> bool:
    return TOTPDevice.objects.filter(user=user, confirmed=True).exists()


def remaining_backup_codes(user: User) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def pending_totp_device(user: User) -> TOTPDevice:
    """The unconfirmed device being enrolled; reused so a reload keeps the QR code."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=TOTP_DEVICE_NAME, confirmed=False)
    return device


def secret_for_manual_entry(device: TOTPDevice) -> str:
    secret = base64.b32encode(device.bin_key).decode().rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))


def qr_code_svg(device: TOTPDevice) -> str:
    return segno.make(device.config_url, error="m").svg_inline(scale=5, border=2, dark="#0b1220")


def normalise_code(raw: str) -> str:
    return _SEPARATORS.sub("", raw or "").lower()


def check_totp_code(device: TOTPDevice, raw_code: str) -> CodeCheck:
    allowed, throttle = device.verify_is_allowed()
    if not allowed:
        return CodeCheck(None, _throttled_message(throttle))
    code = normalise_code(raw_code)
    if not (code.isdigit() and len(code) == device.digits):
        return CodeCheck(None, f"Enter the {device.digits}-digit code from your authenticator app.")
    if device.verify_token(code):
        return CodeCheck(device)
    return CodeCheck(None, "That code is wrong or was already used. Wait for the next code and try again.")


def check_second_factor(user: User, raw_code: str) -> CodeCheck:
    """Accept a current TOTP code or an unused backup code."""
    code = normalise_code(raw_code)
    totp = confirmed_totp_device(user)
    if totp is not None and code.isdigit() and len(code) == totp.digits:
        return check_totp_code(totp, code)
    for device in StaticDevice.objects.filter(user=user, confirmed=True):
        allowed, throttle = device.verify_is_allowed()
        if not allowed:
            return CodeCheck(None, _throttled_message(throttle))
        if device.verify_token(code):
            return CodeCheck(device)
    return CodeCheck(
        None, "That code is not valid. Use the current code from your app or an unused backup code."
    )


def _throttled_message(throttle: dict | None) -> str:
    locked_until = (throttle or {}).get("locked_until")
    if locked_until is None:
        return "Too many wrong codes. Wait a moment and try again."
    seconds = max(1, int((locked_until - timezone.now()).total_seconds()) + 1)
    return f"Too many wrong codes. Try again in {seconds} seconds."


def enable_two_factor(device: TOTPDevice) -> list[str]:
    """Confirm the enrolled device and issue a fresh set of backup codes."""
    user = device.user
    TOTPDevice.objects.filter(user=user).exclude(pk=device.pk).delete()
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    return replace_backup_codes(user)


def replace_backup_codes(user: User) -> list[str]:
    StaticDevice.objects.filter(user=user).delete()
    backup = StaticDevice.objects.create(user=user, name=BACKUP_DEVICE_NAME, confirmed=True)
    codes = [StaticToken.random_token() for _ in range(BACKUP_CODE_COUNT)]
    StaticToken.objects.bulk_create(StaticToken(device=backup, token=code) for code in codes)
    return codes


def disable_two_factor(user: User) -> None:
    TOTPDevice.objects.filter(user=user).delete()
    StaticDevice.objects.filter(user=user).delete()
