from __future__ import annotations

import pytest

from exchanges.base import KeyPermissions
from exchanges.policy import (
    NO_IP_WHITELIST_WARNING,
    NO_READ_REFUSED,
    NO_SPOT_TRADE_REFUSED,
    READ_ONLY_REFUSED,
    WITHDRAW_REFUSED,
    review_key,
)


def permissions(**overrides) -> KeyPermissions:
    values = {
        "can_read": True,
        "can_trade_spot": True,
        "can_withdraw": False,
        "read_only": False,
        "ip_whitelist": ("203.0.113.7",),
    }
    return KeyPermissions(**{**values, **overrides})


def test_a_trading_key_bound_to_an_ip_is_accepted_without_warnings() -> None:
    review = review_key(permissions())
    assert review.accepted
    assert review.errors == ()
    assert review.warnings == ()


def test_a_key_that_can_withdraw_is_refused() -> None:
    review = review_key(permissions(can_withdraw=True))
    assert not review.accepted
    assert review.errors == (WITHDRAW_REFUSED,)
    assert "Withdraw permission" in WITHDRAW_REFUSED


def test_a_read_only_key_is_refused() -> None:
    review = review_key(permissions(read_only=True, can_trade_spot=False))
    assert not review.accepted
    assert review.errors == (READ_ONLY_REFUSED,)


def test_a_key_without_spot_trade_is_refused() -> None:
    review = review_key(permissions(can_trade_spot=False))
    assert review.errors == (NO_SPOT_TRADE_REFUSED,)


def test_a_key_that_cannot_read_is_refused() -> None:
    assert review_key(permissions(can_read=False)).errors == (NO_READ_REFUSED,)


def test_every_problem_is_reported_at_once() -> None:
    review = review_key(permissions(can_withdraw=True, read_only=True, ip_whitelist=()))
    assert review.errors == (WITHDRAW_REFUSED, READ_ONLY_REFUSED)
    assert review.warnings == (NO_IP_WHITELIST_WARNING,)


@pytest.mark.parametrize("whitelist", [(), ("*",), ("203.0.113.7", "*"), ("",)])
def test_a_key_usable_from_any_ip_is_accepted_with_a_warning(whitelist: tuple[str, ...]) -> None:
    review = review_key(permissions(ip_whitelist=whitelist))
    assert review.accepted
    assert review.warnings == (NO_IP_WHITELIST_WARNING,)


def test_a_paper_account_needs_no_ip_whitelist() -> None:
    review = review_key(permissions(ip_whitelist=()), issued_by_venue=False)
    assert review.accepted
    assert review.warnings == ()
