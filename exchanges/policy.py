"""What Gridwise accepts in an API key, as a pure function over `KeyPermissions`."""

from __future__ import annotations

from dataclasses import dataclass

from exchanges.base import KeyPermissions

ANY_IP = "*"

WITHDRAW_REFUSED = (
    "This key can withdraw funds. Create a key without the Withdraw permission: "
    "Gridwise never needs it, and a leaked key could then empty your account."
)
READ_ONLY_REFUSED = (
    "This key is read-only, so bots could not place orders. "
    "Create a key with Read-Write access and the Spot Trade permission."
)
NO_SPOT_TRADE_REFUSED = (
    "This key cannot trade spot. Turn on the Spot Trade permission for the key, or create a new one with it."
)
NO_READ_REFUSED = (
    "This key cannot read your account, so bots could not see balances or orders. "
    "Create a key with read access."
)
NO_IP_WHITELIST_WARNING = (
    "This key works from any IP address. For extra safety, restrict it to the IP address "
    "of the server running Gridwise in your exchange's API settings."
)


@dataclass(frozen=True)
class KeyReview:
    errors: tuple[str, ...]
    warnings: tuple[str, ...]

    @property
    def accepted(self) -> bool:
        return not self.errors


def review_key(permissions: KeyPermissions, *, issued_by_venue: bool = True) -> KeyReview:
    """Refuse keys that could hurt the trader or could not run a bot; warn about weak ones.

    `issued_by_venue` is False for paper accounts: no key exists that could leak,
    so an IP restriction means nothing.
    """
    errors: list[str] = []
    if permissions.can_withdraw:
        errors.append(WITHDRAW_REFUSED)
    if permissions.read_only:
        errors.append(READ_ONLY_REFUSED)
    elif not permissions.can_trade_spot:
        errors.append(NO_SPOT_TRADE_REFUSED)
    if not permissions.can_read:
        errors.append(NO_READ_REFUSED)
    warnings = [NO_IP_WHITELIST_WARNING] if issued_by_venue and not has_ip_whitelist(permissions) else []
    return KeyReview(errors=tuple(errors), warnings=tuple(warnings))


def has_ip_whitelist(permissions: KeyPermissions) -> bool:
    addresses = [address.strip() for address in permissions.ip_whitelist if address.strip()]
    return bool(addresses) and ANY_IP not in addresses
