"""Bybit v5 JSON records into our value types, and the vocabulary both sides share.

Bybit sends every number as a string; they become `Decimal` here and nowhere
else. Any missing or malformed field raises `KeyError`, `ValueError`,
`TypeError` or `ArithmeticError`; the adapter treats those as an unreadable reply.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from exchanges.base import (
    Balance,
    Candle,
    Fill,
    FundingPayment,
    FundingRate,
    Instrument,
    InstrumentKind,
    KeyPermissions,
    OrderState,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
    Ticker,
    TimeInForce,
)

SIDES = {Side.BUY: "Buy", Side.SELL: "Sell"}
ORDER_TYPES = {OrderType.LIMIT: "Limit", OrderType.MARKET: "Market"}
TIME_IN_FORCE = {
    TimeInForce.GTC: "GTC",
    TimeInForce.IOC: "IOC",
    TimeInForce.FOK: "FOK",
    TimeInForce.POST_ONLY: "PostOnly",
}
# Our candle intervals and Bybit's names for them.
INTERVALS = {
    "1m": "1",
    "3m": "3",
    "5m": "5",
    "15m": "15",
    "30m": "30",
    "1h": "60",
    "2h": "120",
    "4h": "240",
    "6h": "360",
    "12h": "720",
    "1d": "D",
    "1w": "W",
    "1M": "M",
}
_STATUSES = {
    "New": OrderStatus.NEW,
    "PartiallyFilled": OrderStatus.PARTIALLY_FILLED,
    "Untriggered": OrderStatus.NEW,
    "Triggered": OrderStatus.NEW,
    "Filled": OrderStatus.FILLED,
    "Cancelled": OrderStatus.CANCELLED,
    "PartiallyFilledCanceled": OrderStatus.CANCELLED,
    "Deactivated": OrderStatus.CANCELLED,
    "Rejected": OrderStatus.REJECTED,
}
NO_REJECT_REASON = "EC_NoError"
# Bybit accepts a post-only order that would take liquidity, then rejects (or cancels) it with this.
POST_ONLY_REFUSED = "EC_PostOnlyWillTakeLiquidity"
LINEAR_SETTLE_COIN = "USDT"  # the settle coin of every USDT perpetual
# Bybit's "never expires" for a key bound to IP addresses.
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

Record = Mapping[str, Any]


def from_ms(value: str | int) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, tz=UTC)


def to_ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def decimal(value: str) -> Decimal:
    if not isinstance(value, str):
        raise TypeError(f"Bybit sends numbers as strings, got {value!r}")
    return Decimal(value)


def _optional_decimal(value: str) -> Decimal | None:
    """Bybit writes "absent" as "", "0" or "0.00"."""
    if value == "":
        return None
    number = decimal(value)
    return number if number != 0 else None


def _by_value(mapping: Mapping[Any, str], value: str) -> Any:
    for ours, theirs in mapping.items():
        if theirs == value:
            return ours
    raise ValueError(f"Unexpected value {value!r}")


def instrument(record: Record, fees: Record) -> Instrument:
    lot = record["lotSizeFilter"]
    # Spot splits the maximum by order type; maxOrderQty is the older single limit for both.
    max_limit_quantity = decimal(lot.get("maxLimitOrderQty") or lot["maxOrderQty"])
    return Instrument(
        symbol=record["symbol"],
        base=record["baseCoin"],
        quote=record["quoteCoin"],
        tick_size=decimal(record["priceFilter"]["tickSize"]),
        quantity_step=decimal(lot["basePrecision"]),
        min_quantity=decimal(lot["minOrderQty"]),
        min_amount=decimal(lot["minOrderAmt"]),
        max_quantity=max_limit_quantity,
        max_amount=decimal(lot["maxOrderAmt"]),
        max_market_quantity=_max_market_quantity(lot, max_limit_quantity),
        maker_fee=decimal(fees["makerFeeRate"]),
        taker_fee=decimal(fees["takerFeeRate"]),
    )


def _max_market_quantity(lot: Record, max_limit_quantity: Decimal) -> Decimal:
    """Spot names it maxMarketOrderQty, derivatives maxMktOrderQty; absent, limits apply."""
    found = lot.get("maxMarketOrderQty") or lot.get("maxMktOrderQty")
    return decimal(found) if found else max_limit_quantity


def ticker(record: Record, time_ms: int) -> Ticker:
    return Ticker(
        symbol=record["symbol"],
        last=decimal(record["lastPrice"]),
        bid=decimal(record["bid1Price"]),
        ask=decimal(record["ask1Price"]),
        time=from_ms(time_ms),
    )


def candle(row: list[str]) -> Candle:
    start, open_, high, low, close, volume = row[:6]
    return Candle(
        open_time=from_ms(start),
        open=decimal(open_),
        high=decimal(high),
        low=decimal(low),
        close=decimal(close),
        volume=decimal(volume),
    )


def balance(record: Record) -> Balance:
    locked = decimal(record["locked"])
    return Balance(asset=record["coin"], free=decimal(record["walletBalance"]) - locked, locked=locked)


def order_state(record: Record, kind: InstrumentKind = InstrumentKind.SPOT) -> OrderState:
    order_type: OrderType = _by_value(ORDER_TYPES, record["orderType"])
    reject = record.get("rejectReason", "")
    return OrderState(
        exchange_order_id=record["orderId"],
        client_order_id=record["orderLinkId"],
        symbol=record["symbol"],
        side=_by_value(SIDES, record["side"]),
        order_type=order_type,
        price=_optional_decimal(record["price"]) if order_type is OrderType.LIMIT else None,
        quantity=decimal(record["qty"]),
        filled_quantity=decimal(record["cumExecQty"]),
        average_price=_optional_decimal(record["avgPrice"]),
        status=_STATUSES[record["orderStatus"]],
        created_at=from_ms(record["createdTime"]),
        updated_at=from_ms(record["updatedTime"]),
        reject_reason="" if reject in ("", NO_REJECT_REASON) else reject,
        post_only_refused=reject == POST_ONLY_REFUSED,
        kind=kind,
        reduce_only=bool(record.get("reduceOnly", False)),
    )


def fill(record: Record, kind: InstrumentKind = InstrumentKind.SPOT) -> Fill:
    # Bybit's docs show a linear execution both with feeCurrency "USDT" and with it empty; a USDT
    # perpetual always pays its fee in its settle coin.
    fee_asset = record["feeCurrency"] or (LINEAR_SETTLE_COIN if kind is InstrumentKind.LINEAR else "")
    return Fill(
        trade_id=record["execId"],
        exchange_order_id=record["orderId"],
        client_order_id=record["orderLinkId"],
        symbol=record["symbol"],
        side=_by_value(SIDES, record["side"]),
        price=decimal(record["execPrice"]),
        quantity=decimal(record["execQty"]),
        fee=decimal(record["execFee"]),
        fee_asset=fee_asset,
        is_maker=bool(record["isMaker"]),
        time=from_ms(record["execTime"]),
    )


def funding_payment(record: Record) -> FundingPayment:
    """An execution of execType "Funding": its fee is what the position paid (negative: received)."""
    size = decimal(record["execQty"])
    return FundingPayment(
        payment_id=record["execId"],
        symbol=record["symbol"],
        time=from_ms(record["execTime"]),
        rate=decimal(record["feeRate"]),
        mark_price=decimal(record["execPrice"]),
        size=size if _by_value(SIDES, record["side"]) is Side.BUY else -size,
        amount=-decimal(record["execFee"]),
    )


def key_permissions(record: Record) -> KeyPermissions:
    permissions = record["permissions"]
    ips = tuple(ip for ip in record["ips"] if ip != "*")
    expires = datetime.fromisoformat(record["expiredAt"].replace("Z", "+00:00"))
    # The key and its (always blank) secret are not kept, so `raw` is safe to show.
    raw = {key: value for key, value in record.items() if key not in ("apiKey", "secret")}
    return KeyPermissions(
        can_read=True,
        can_trade_spot="SpotTrade" in permissions.get("Spot", []),
        can_withdraw="Withdraw" in permissions.get("Wallet", []),
        read_only=int(record["readOnly"]) == 1,
        ip_whitelist=ips,
        expires_at=None if expires == _EPOCH else expires,
        raw=raw,
    )


POSITION_SIDES = {"Buy": PositionSide.LONG, "Sell": PositionSide.SHORT}


def linear_instrument(record: Record, fees: Record) -> Instrument:
    """A USDT perpetual's filters from `/v5/market/instruments-info?category=linear`."""
    lot, price = record["lotSizeFilter"], record["priceFilter"]
    step = decimal(lot["qtyStep"])
    return Instrument(
        symbol=record["symbol"],
        base=record["baseCoin"],
        quote=record["quoteCoin"],
        tick_size=decimal(price["tickSize"]),
        quantity_step=step,
        min_quantity=decimal(lot["minOrderQty"]),
        min_amount=decimal(lot.get("minNotionalValue") or "0"),
        max_quantity=decimal(lot["maxOrderQty"]),
        max_amount=decimal(lot["maxOrderQty"]) * decimal(price["maxPrice"]),
        max_market_quantity=decimal(lot.get("maxMktOrderQty") or lot["maxOrderQty"]),
        maker_fee=decimal(fees["makerFeeRate"]),
        taker_fee=decimal(fees["takerFeeRate"]),
    )


def position(record: Record) -> Position:
    """One row of `/v5/position/list`. Bybit folds funding into cumRealisedPnl without a figure of its own."""
    size = decimal(record["size"])
    side = POSITION_SIDES.get(record["side"]) if size else None
    return Position(
        symbol=record["symbol"],
        side=side,
        size=size,
        entry_price=decimal(record["avgPrice"] or "0"),
        mark_price=decimal(record["markPrice"]),
        leverage=decimal(record["leverage"]),
        liquidation_price=_optional_decimal(record["liqPrice"]) if side else None,
        bankruptcy_price=_optional_decimal(record["bustPrice"]) if side else None,
        position_margin=decimal(record["positionBalance"] or "0"),
        unrealised_pnl=decimal(record["unrealisedPnl"] or "0"),
        realised_pnl=decimal(record["cumRealisedPnl"] or "0"),
        funding=None,
    )


def funding_rate(record: Record) -> FundingRate:
    return FundingRate(
        symbol=record["symbol"],
        rate=decimal(record["fundingRate"]),
        time=from_ms(record["fundingRateTimestamp"]),
    )
