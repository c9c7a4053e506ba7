"""Two-factor authentication rules on top of django-otp.

A user has 2FA when they own a confirmed TOTP device. Backup codes are
django-otp static tokens: each one is deleted when used, so it works once.
TOTP codes cannot be replayed (django-otp remembers the last time step).

Wrong codes are throttled here, per user and across every place a code is asked for
(sign-in, enrolment, disabling, new backup codes, the staff admin's login): a few are free,
then each one costs a wait that doubles. django-otp's own per-device throttle is switched off
(OTP_*_THROTTLE_FACTOR = 0): on top of ours it locked the right code out for a second after
any wrong one.
"""

from __future__ import annotations

import base64
import re
import time
from dataclasses import dataclass

import segno
from django.core.cache import cache
from django_otp.models import Device
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.models import User
from config.wording import wait_phrase

BACKUP_CODE_COUNT = 10
TOTP_DEVICE_NAME = "Authenticator app"
BACKUP_DEVICE_NAME = "Backup codes"
_SEPARATORS = re.compile(r"[\s-]+")

FREE_WRONG_CODES = 3
FIRST_WAIT_SECONDS = 5
LONGEST_WAIT_SECONDS = 30 * 60
# Wrong codes are forgotten this long after the last one.
WRONG_CODES_MEMORY_SECONDS = 24 * 3600


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
    """A code from the authenticator app being enrolled or already on."""
    user: User = device.user
    if wait := seconds_to_wait(user):
        return CodeCheck(None, wait_message(wait))
    code = normalise_code(raw_code)
    if not (code.isdigit() and len(code) == device.digits):
        return CodeCheck(None, f"Enter the {device.digits}-digit code from your authenticator app.")
    if device.verify_token(code):
        forget_wrong_codes(user)
        return CodeCheck(device)
    return CodeCheck(None, _after_wrong_code(user, WRONG_TOTP_MESSAGE))


def check_second_factor(user: User, raw_code: str) -> CodeCheck:
    """Accept a current TOTP code or an unused backup code."""
    code = normalise_code(raw_code)
    totp = confirmed_totp_device(user)
    if totp is not None and code.isdigit() and len(code) == totp.digits:
        return check_totp_code(totp, code)
    if wait := seconds_to_wait(user):
        return CodeCheck(None, wait_message(wait))
    for device in StaticDevice.objects.filter(user=user, confirmed=True):
        if device.verify_token(code):
            forget_wrong_codes(user)
            return CodeCheck(device)
    return CodeCheck(None, _after_wrong_code(user, WRONG_SECOND_FACTOR_MESSAGE))


WRONG_TOTP_MESSAGE = "That code is wrong or was already used. Wait for the next code and try again."
WRONG_SECOND_FACTOR_MESSAGE = (
    "That code is not valid. Use the current code from your app or an unused backup code."
)


def _failures_key(user: User) -> str:
    return f"two-factor:wrong-codes:{user.pk}"


def _lock_key(user: User) -> str:
    return f"two-factor:locked-until:{user.pk}"


def seconds_to_wait(user: User) -> float:
    """How long before this user's next code is checked; 0 when it is checked now."""
    locked_until = cache.get(_lock_key(user))
    return max(0.0, locked_until - time.time()) if locked_until else 0.0


def record_wrong_code(user: User) -> float:
    """Count a wrong code; returns the wait it costs (0 while it is one of the free ones)."""
    key = _failures_key(user)
    cache.add(key, 0, timeout=WRONG_CODES_MEMORY_SECONDS)
    try:
        failures = cache.incr(key)
    except ValueError:  # expired between the two calls
        cache.set(key, failures := 1, timeout=WRONG_CODES_MEMORY_SECONDS)
    cache.touch(key, WRONG_CODES_MEMORY_SECONDS)
    if failures < FREE_WRONG_CODES:
        return 0.0
    wait = min(LONGEST_WAIT_SECONDS, FIRST_WAIT_SECONDS * 2 ** (failures - FREE_WRONG_CODES))
    cache.set(_lock_key(user), time.time() + wait, timeout=wait + 1)
    return float(wait)


def forget_wrong_codes(user: User) -> None:
    cache.delete_many([_failures_key(user), _lock_key(user)])


def wait_message(seconds: float) -> str:
    return f"Too many wrong codes. Try again in {wait_phrase(seconds)}."


def _after_wrong_code(user: User, message: str) -> str:
    wait = record_wrong_code(user)
    return f"{message} {wait_message(wait)}" if wait else message


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
