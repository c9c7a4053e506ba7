"""The retCode table, read both ways."""

from __future__ import annotations

import pytest

from exchanges.base import (
    AuthError,
    DuplicateClientOrderId,
    ExchangeError,
    ExchangeUnavailable,
    InsufficientBalance,
    InvalidOrder,
    InvalidOrderReason,
    LeverageRejected,
    OrderNotFound,
    PermissionDenied,
    PositionModeLocked,
    RateLimited,
)
from exchanges.bybit import codes

EXPECTED = {
    10001: (InvalidOrder, InvalidOrderReason.BAD_PARAMETER),
    10002: (AuthError, None),
    10003: (AuthError, None),
    10004: (AuthError, None),
    10005: (PermissionDenied, None),
    10006: (RateLimited, None),
    10010: (PermissionDenied, None),
    10016: (ExchangeUnavailable, None),
    170121: (InvalidOrder, InvalidOrderReason.UNKNOWN_SYMBOL),
    170124: (InvalidOrder, InvalidOrderReason.AMOUNT_TOO_LARGE),
    170131: (InsufficientBalance, None),
    170134: (InvalidOrder, InvalidOrderReason.PRICE_PRECISION),
    170135: (InvalidOrder, InvalidOrderReason.QUANTITY_TOO_LARGE),
    170136: (InvalidOrder, InvalidOrderReason.QUANTITY_TOO_SMALL),
    170137: (InvalidOrder, InvalidOrderReason.QUANTITY_PRECISION),
    170140: (InvalidOrder, InvalidOrderReason.AMOUNT_TOO_SMALL),
    170141: (DuplicateClientOrderId, None),
    170213: (OrderNotFound, None),
    170218: (InvalidOrder, InvalidOrderReason.POST_ONLY_WOULD_TAKE),
    110013: (LeverageRejected, None),
    110017: (InvalidOrder, InvalidOrderReason.REDUCE_ONLY),
    110024: (PositionModeLocked, None),
    110028: (PositionModeLocked, None),
    110044: (InsufficientBalance, None),
}


@pytest.mark.parametrize("entry", codes.TABLE, ids=lambda entry: str(entry.code))
def test_every_code_becomes_its_error(entry):
    error = codes.error_for(entry.code, "as Bybit said it", retry_after=2.5)

    assert type(error) is entry.error
    assert error.code == str(entry.code)
    assert error.message == "as Bybit said it"
    assert getattr(error, "reason", None) == entry.reason
    if isinstance(error, RateLimited):
        assert error.retry_after == 2.5


@pytest.mark.parametrize(("code", "expected"), EXPECTED.items(), ids=str)
def test_the_codes_that_matter_most(code, expected):
    error = codes.error_for(code, "")

    assert (type(error), getattr(error, "reason", None)) == expected
    assert error.message == codes.BY_CODE[code].message  # Bybit's own words when it sent none


def test_an_unknown_code_is_a_plain_exchange_error_keeping_its_code():
    error = codes.error_for(999999, "something new")

    assert type(error) is ExchangeError
    assert error.code == "999999"


@pytest.mark.parametrize("reason", list(InvalidOrderReason), ids=str)
def test_every_invalid_order_reason_has_one_code_that_reads_back_the_same(reason):
    entry = codes.retcode_for(InvalidOrder("x", reason=reason))

    back = codes.error_for(entry.code, entry.message)
    assert isinstance(back, InvalidOrder)
    assert back.reason is reason


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (InsufficientBalance("x"), 170131, "Balance insufficient"),
        (DuplicateClientOrderId("x"), 170141, "Duplicate clientOrderId"),
        (OrderNotFound("x"), 170213, "Order does not exist."),
        (AuthError("x"), 10003, "API key is invalid."),
        (PermissionDenied("x"), 10005, "Permission denied, please check your API key permissions."),
        (RateLimited("x", retry_after=1), 10006, "Too many visits. Exceeded the API Rate Limit."),
        (ExchangeUnavailable("x"), 10016, "Server error."),
        (LeverageRejected("x"), 110013, "Cannot set leverage due to risk limit level."),
        (PositionModeLocked("x"), 110028, "Open orders exist, so you cannot change position mode"),
        (ExchangeError("x"), 10016, "Server error."),
    ],
    ids=lambda value: type(value).__name__ if isinstance(value, Exception) else str(value),
)
def test_our_errors_become_bybits_code_and_message(error, code, message):
    entry = codes.retcode_for(error)

    assert (entry.code, entry.message) == (code, message)
    assert isinstance(codes.error_for(entry.code, entry.message), type(error))


def test_canonical_codes_are_one_per_error_and_reason():
    pairs = [(entry.error, entry.reason) for entry in codes.TABLE if entry.code in codes.CANONICAL_CODES]

    assert len(pairs) == len(set(pairs)) == len(codes.CANONICAL_CODES)
    assert len(codes.BY_CODE) == len(codes.TABLE)  # no code listed twice


def test_the_not_modified_codes_are_known_as_such():
    assert {110025, 110043} == codes.NOT_MODIFIED
    assert codes.BY_CODE[110043].message == "Set leverage not modified"
    assert codes.BY_CODE[110025].message == "Position mode is not modified"
