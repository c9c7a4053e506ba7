"""Bybit v5 retCodes and our errors: one table, read in both directions.

The adapter turns a retCode into one of our `ExchangeError`s; the simulator
turns an error raised by the paper engine back into the retCode and retMsg
Bybit would answer with. The spot, common and linear-perpetual codes matter here.

Source: Bybit's own error list, `docs/v5/error.mdx` in github.com/bybit-exchange/docs
(commit dc3c88bfd513eef0e7bc482efe1e6edc94182065), published at
https://bybit-exchange.github.io/docs/v5/error ("UMA & UTA & Futures" and
"Spot Trade" tables). Messages are Bybit's descriptions, verbatim. The 10002
reply text follows what Bybit actually sends (the docs only describe it).
"""

from __future__ import annotations

from dataclasses import dataclass

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

OK = 0
PARAMETER_ERROR = 10001
RECV_WINDOW = 10002
INVALID_KEY = 10003
BAD_SIGN = 10004
PERMISSION_DENIED = 10005
TOO_MANY_VISITS = 10006
UNMATCHED_IP = 10010
SERVER_ERROR = 10016
ROUTE_NOT_FOUND = 10017
# Linear: asking for what is already in force. Idempotent calls treat these as success.
POSITION_MODE_NOT_MODIFIED = 110025
LEVERAGE_NOT_MODIFIED = 110043
LINEAR_ORDER_NOT_FOUND = 110001  # "Order does not exist" for derivatives (spot: 170213)
NOT_MODIFIED = frozenset({POSITION_MODE_NOT_MODIFIED, LEVERAGE_NOT_MODIFIED})

# Bybit fills in the three numbers; the adapter never parses this text.
RECV_WINDOW_MESSAGE = (
    "invalid request, please check your server timestamp or recv_window param. "
    "req_timestamp[{timestamp}],server_timestamp[{server_time}],recv_window[{recv_window}]"
)
# What Bybit answers when a spot-only call is made for another category.
ILLEGAL_CATEGORY_MESSAGE = "Illegal category"


@dataclass(frozen=True)
class RetCode:
    code: int
    message: str
    error: type[ExchangeError]
    reason: InvalidOrderReason | None = None


_I = InvalidOrderReason

TABLE: tuple[RetCode, ...] = (
    # Common to every category.
    RetCode(10000, "Server Timeout", ExchangeUnavailable),
    RetCode(10001, "Request parameter error", InvalidOrder, _I.BAD_PARAMETER),
    RetCode(10002, "The request time exceeds the time window range.", AuthError),
    RetCode(10003, "API key is invalid.", AuthError),
    RetCode(10004, "Error sign, please check your signature generation algorithm.", AuthError),
    RetCode(10005, "Permission denied, please check your API key permissions.", PermissionDenied),
    RetCode(10006, "Too many visits. Exceeded the API Rate Limit.", RateLimited),
    RetCode(10007, "User authentication failed.", AuthError),
    RetCode(10008, "Common banned, please check your account mode", PermissionDenied),
    RetCode(10009, "IP has been banned.", PermissionDenied),
    RetCode(10010, "Unmatched IP, please check your API key's bound IP addresses.", PermissionDenied),
    RetCode(10016, "Server error.", ExchangeUnavailable),
    RetCode(10018, "Exceeded the IP Rate Limit.", RateLimited),
    RetCode(10024, "Compliance rules triggered", PermissionDenied),
    RetCode(10027, "Transactions are banned.", PermissionDenied),
    RetCode(
        10029,
        "The requested symbol is invalid, please check symbol whitelist",
        InvalidOrder,
        _I.UNKNOWN_SYMBOL,
    ),
    RetCode(33004, "api_key expire", AuthError),
    # Spot trade.
    RetCode(170001, "Internal error.", ExchangeUnavailable),
    RetCode(170005, "Too many new orders; current limit is %s orders per %s.", RateLimited),
    RetCode(170007, "Timeout waiting for response from backend server.", ExchangeUnavailable),
    RetCode(170032, "Network error. Please try again later", ExchangeUnavailable),
    RetCode(170033, "margin Insufficient account balance", InsufficientBalance),
    RetCode(170105, "Parameter '%s' was empty.", InvalidOrder, _I.BAD_PARAMETER),
    RetCode(170115, "Invalid timeInForce.", InvalidOrder, _I.BAD_PARAMETER),
    RetCode(170116, "Invalid orderType.", InvalidOrder, _I.BAD_PARAMETER),
    RetCode(170117, "Invalid side.", InvalidOrder, _I.BAD_PARAMETER),
    RetCode(170121, "Invalid symbol.", InvalidOrder, _I.UNKNOWN_SYMBOL),
    RetCode(170124, "Order amount too large.", InvalidOrder, _I.AMOUNT_TOO_LARGE),
    RetCode(170130, "Data sent for paramter '%s' is not valid.", InvalidOrder, _I.BAD_PARAMETER),
    RetCode(170131, "Balance insufficient", InsufficientBalance),
    RetCode(170132, "Order price too high.", InvalidOrder, _I.BAD_PARAMETER),
    RetCode(170133, "Order price lower than the minimum.", InvalidOrder, _I.BAD_PARAMETER),
    RetCode(170134, "Order price decimal too long.", InvalidOrder, _I.PRICE_PRECISION),
    RetCode(170135, "Order quantity too large.", InvalidOrder, _I.QUANTITY_TOO_LARGE),
    RetCode(170136, "Order quantity lower than the minimum.", InvalidOrder, _I.QUANTITY_TOO_SMALL),
    RetCode(170137, "Order volume decimal too long", InvalidOrder, _I.QUANTITY_PRECISION),
    RetCode(170139, "Order has been filled.", OrderNotFound),
    RetCode(170140, "Transaction amount lower than the minimum.", InvalidOrder, _I.AMOUNT_TOO_SMALL),
    RetCode(170141, "Duplicate clientOrderId", DuplicateClientOrderId),
    RetCode(170142, "Order has been canceled", OrderNotFound),
    RetCode(170143, "Cannot be found on order book", OrderNotFound),
    RetCode(170146, "Order creation timeout", ExchangeUnavailable),
    RetCode(170147, "Order cancellation timeout", ExchangeUnavailable),
    RetCode(170148, "Market order amount decimal too long", InvalidOrder, _I.QUANTITY_PRECISION),
    # "failed" without a reason: we cannot tell it never reached the book.
    RetCode(170149, "Create order failed", ExchangeUnavailable),
    RetCode(170150, "Cancel order failed", ExchangeUnavailable),
    RetCode(170151, "The trading pair is not open yet", InvalidOrder, _I.UNKNOWN_SYMBOL),
    RetCode(170157, "The trading pair is not available for api trading", InvalidOrder, _I.UNKNOWN_SYMBOL),
    RetCode(170190, "Cancel order has been finished", OrderNotFound),
    RetCode(170191, "Can not cancel order, please try again later", ExchangeUnavailable),
    RetCode(
        170201,
        "Your account has been restricted for trades. If you have any questions, please email us at "
        "support@bybit.com",
        PermissionDenied,
    ),
    RetCode(170213, "Order does not exist.", OrderNotFound),
    RetCode(
        170218,
        "The LIMIT-MAKER order is rejected due to invalid price.",
        InvalidOrder,
        _I.POST_ONLY_WOULD_TAKE,
    ),
    RetCode(170222, "Too many requests in this time frame.", RateLimited),
    RetCode(170234, "System Error", ExchangeUnavailable),
    # Unified-account order codes Bybit also answers spot orders with.
    RetCode(110001, "Order does not exist", OrderNotFound),
    RetCode(110004, "Wallet balance is insufficient", InsufficientBalance),
    RetCode(110007, "Available balance is insufficient", InsufficientBalance),
    RetCode(110008, "The order has been completed or cancelled.", OrderNotFound),
    RetCode(110010, "The order has been cancelled", OrderNotFound),
    RetCode(110012, "Insufficient available balance.", InsufficientBalance),
    RetCode(110072, "OrderLinkedID is duplicate", DuplicateClientOrderId),
    # Linear perpetuals (the "UMA & UTA & Futures" table).
    RetCode(110013, "Cannot set leverage due to risk limit level.", LeverageRejected),
    RetCode(
        110016,
        "Requested quantity of contracts exceeds risk limit, please adjust your risk limit level before "
        "trying again",
        InvalidOrder,
        _I.AMOUNT_TOO_LARGE,
    ),
    RetCode(110017, "ReduceOnly rule not satisified.", InvalidOrder, _I.REDUCE_ONLY),
    RetCode(110024, "You have an existing position, so position mode cannot be switched", PositionModeLocked),
    RetCode(110025, "Position mode is not modified", ExchangeError),
    RetCode(110028, "Open orders exist, so you cannot change position mode", PositionModeLocked),
    RetCode(110043, "Set leverage not modified", ExchangeError),
    RetCode(110044, "Insufficient available margin", InsufficientBalance),
)

# The code the simulator answers with for each (error, reason): one per pair.
CANONICAL_CODES = frozenset(
    {10001, 10003, 10005, 10006, 10016, 170121, 170124, 170131, 170134, 170135, 170136, 170137}
    | {170140, 170141, 170213, 170218, 110013, 110017, 110028}
)

BY_CODE: dict[int, RetCode] = {entry.code: entry for entry in TABLE}
_CANONICAL: dict[tuple[type[ExchangeError], InvalidOrderReason | None], RetCode] = {
    (entry.error, entry.reason): entry for entry in TABLE if entry.code in CANONICAL_CODES
}

# Authentication failures the simulator reports with their own code, not 10003.
RECV_WINDOW_ENTRY = BY_CODE[RECV_WINDOW]
BAD_SIGN_ENTRY = BY_CODE[BAD_SIGN]


def error_for(code: int, message: str, *, retry_after: float = 1.0) -> ExchangeError:
    """Our error for a non-zero retCode; `message` is the retMsg Bybit sent."""
    entry = BY_CODE.get(code)
    text = message or (entry.message if entry else f"Bybit error {code}")
    if entry is None:
        return ExchangeError(text, code=str(code))
    if entry.error is RateLimited:
        return RateLimited(text, retry_after=retry_after, code=str(code))
    if entry.error is InvalidOrder:
        assert entry.reason is not None  # the table gives every InvalidOrder a reason
        return InvalidOrder(text, reason=entry.reason, code=str(code))
    return entry.error(text, code=str(code))


def retcode_for(error: ExchangeError) -> RetCode:
    """The retCode and retMsg Bybit answers with for one of our errors."""
    reason = error.reason if isinstance(error, InvalidOrder) else None
    for cls in type(error).__mro__:
        entry = _CANONICAL.get((cls, reason))
        if entry is not None:
            return entry
    return BY_CODE[SERVER_ERROR]
