"""Our value types written as Bybit v5 JSON, with every field Bybit documents.

Field sets follow Bybit's own response examples (exchanges/tests/bybit_v5, from
github.com/bybit-exchange/docs). Fields about products the paper engine does not
model (options, margin, TP/SL, SMP, RPI) carry Bybit's "empty" spellings.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from exchanges.base import (
    Balance,
    Candle,
    Fill,
    FundingPayment,
    FundingRate,
    Instrument,
    OrderState,
    OrderStatus,
    OrderType,
    Position,
    PositionSide,
    Side,
    Ticker,
)
from exchanges.bybit.convert import NO_REJECT_REASON, ORDER_TYPES, POST_ONLY_REFUSED, SIDES, to_ms
from exchanges.perpetuals.margin import RiskTier
from exchanges.simulator.auth import KeyConfig

Json = dict[str, Any]

# Spot reports an order cancelled after a partial fill with a status of its own.
_STATUSES = {
    OrderStatus.NEW: "New",
    OrderStatus.PARTIALLY_FILLED: "PartiallyFilled",
    OrderStatus.FILLED: "Filled",
    OrderStatus.CANCELLED: "Cancelled",
    OrderStatus.REJECTED: "Rejected",
}
# Fields the history example has and the realtime one does not.
HISTORY_ONLY_FIELDS = (
    "slippageToleranceType",
    "slippageTolerance",
    "extraFees",
    "rpiTakerAccess",
    "rpiMatchedQty",
)
QUOTE_PRECISION = "0.00000001"
# Bybit expires a key bound to no IP address after 90 days.
KEY_LIFETIME = timedelta(days=90)


def now_ms() -> int:
    return int(time.time() * 1000)


def text(value: Decimal) -> str:
    """A Decimal as Bybit writes it: plain notation, never an exponent."""
    return format(value.normalize(), "f") if value == value.to_integral() else format(value, "f")


def envelope(result: Json, *, code: int = 0, message: str = "OK") -> Json:
    return {"retCode": code, "retMsg": message, "result": result, "retExtInfo": {}, "time": now_ms()}


def server_time() -> Json:
    nanos = time.time_ns()
    return {"timeSecond": str(nanos // 1_000_000_000), "timeNano": str(nanos)}


def instrument(item: Instrument, symbol_id: int) -> Json:
    return {
        "symbolId": symbol_id,
        "symbol": item.symbol,
        "baseCoin": item.base,
        "quoteCoin": item.quote,
        "innovation": "0",
        "status": "Trading",
        "marginTrading": "none",
        "stTag": "0",
        "lotSizeFilter": {
            "basePrecision": text(item.quantity_step),
            "quotePrecision": QUOTE_PRECISION,
            "minOrderQty": text(item.min_quantity),
            "maxOrderQty": text(item.max_quantity),
            "minOrderAmt": text(item.min_amount),
            "maxOrderAmt": text(item.max_amount),
            "maxLimitOrderQty": text(item.max_quantity),
            "maxMarketOrderQty": text(item.max_market_quantity),
            "postOnlyMaxLimitOrderSize": text(item.max_amount),
        },
        "priceFilter": {"tickSize": text(item.tick_size)},
        "riskParameters": {"priceLimitRatioX": "0.005", "priceLimitRatioY": "0.01"},
        "symbolType": "",
    }


def fee_rate(item: Instrument) -> Json:
    return {
        "symbol": item.symbol,
        "baseCoin": "",
        "takerFeeRate": text(item.taker_fee),
        "makerFeeRate": text(item.maker_fee),
    }


def ticker(item: Ticker, day: list[Candle]) -> Json:
    """`day`: the last 24 hours of candles, oldest first, for the 24h statistics."""
    first = day[0].open if day else item.last
    volume = sum((candle.volume for candle in day), Decimal(0))
    turnover = sum((candle.volume * candle.close for candle in day), Decimal(0))
    change = ((item.last - first) / first).quantize(Decimal("0.0001")) if first else Decimal(0)
    return {
        "symbol": item.symbol,
        "bid1Price": text(item.bid),
        "bid1Size": "1",
        "ask1Price": text(item.ask),
        "ask1Size": "1",
        "lastPrice": text(item.last),
        "prevPrice24h": text(first),
        "price24hPcnt": text(change),
        "highPrice24h": text(max([candle.high for candle in day], default=item.last)),
        "lowPrice24h": text(min([candle.low for candle in day], default=item.last)),
        "turnover24h": text(turnover),
        "volume24h": text(volume),
        "usdIndexPrice": text(item.last),
    }


def kline_row(candle: Candle) -> list[str]:
    turnover = candle.volume * candle.close
    return [
        str(to_ms(candle.open_time)),
        text(candle.open),
        text(candle.high),
        text(candle.low),
        text(candle.close),
        text(candle.volume),
        text(turnover),
    ]


@dataclass(frozen=True)
class OrderExtras:
    """What Bybit reports about an order that `OrderState` does not carry."""

    time_in_force: str
    fee: Decimal
    fee_asset: str


def _reject_reason(state: OrderState) -> str:
    if state.post_only_refused:
        return POST_ONLY_REFUSED
    return state.reject_reason or NO_REJECT_REASON


def order(state: OrderState, extras: OrderExtras, *, realtime: bool) -> Json:
    status = _STATUSES[state.status]
    if state.status is OrderStatus.CANCELLED and state.filled_quantity > 0:
        status = "PartiallyFilledCanceled"
    leaves = state.remaining_quantity if state.status.is_open else Decimal(0)
    price = state.price if state.order_type is OrderType.LIMIT and state.price is not None else Decimal(0)
    average = state.average_price or Decimal(0)
    record: Json = {
        "orderId": state.exchange_order_id,
        "orderLinkId": state.client_order_id,
        "blockTradeId": "",
        "symbol": state.symbol,
        "price": text(price),
        "qty": text(state.quantity),
        "side": SIDES[state.side],
        "isLeverage": "0",
        "positionIdx": 0,
        "orderStatus": status,
        "cancelType": "CancelByUser" if state.status is OrderStatus.CANCELLED else "UNKNOWN",
        "rejectReason": POST_ONLY_REFUSED
        if state.post_only_refused
        else state.reject_reason or NO_REJECT_REASON,
        "avgPrice": text(average) if average else "",
        "leavesQty": text(leaves),
        "leavesValue": text(leaves * price),
        "cumExecQty": text(state.filled_quantity),
        "cumExecValue": text(state.filled_quantity * average),
        "cumExecFee": text(extras.fee),
        "timeInForce": extras.time_in_force,
        "orderType": ORDER_TYPES[state.order_type],
        "stopOrderType": "",
        "orderIv": "",
        "triggerPrice": "0.00",
        "takeProfit": "0.00",
        "stopLoss": "0.00",
        "tpTriggerBy": "",
        "slTriggerBy": "",
        "triggerDirection": 0,
        "triggerBy": "",
        "lastPriceOnCreated": "",
        "reduceOnly": state.reduce_only,
        "closeOnTrigger": False,
        "smpType": "None",
        "smpGroup": 0,
        "smpOrderId": "",
        "tpslMode": "",
        "tpLimitPrice": "",
        "slLimitPrice": "",
        "placeType": "",
        "slippageToleranceType": "UNKNOWN",
        "slippageTolerance": "",
        "createdTime": str(to_ms(state.created_at)),
        "updatedTime": str(to_ms(state.updated_at)),
        "extraFees": "",
        "cumFeeDetail": {extras.fee_asset: text(extras.fee)} if extras.fee else {},
        "rpiTakerAccess": False,
        "rpiMatchedQty": "0",
    }
    if realtime:
        for name in HISTORY_ONLY_FIELDS:
            del record[name]
    return record


def execution(
    fill: Fill, state: OrderState | None, seq: int, quote: str, *, closed_size: Decimal | None = None
) -> Json:
    """`closed_size`: for a perpetual's fill, how much of it closed the position ("0" when it only
    opened); None for spot, which Bybit leaves empty."""
    value = fill.price * fill.quantity
    fee_base = value if fill.fee_asset == quote else fill.quantity
    # A perpetual's numbers come without the paper books' trailing zeros, as in Bybit's linear example.
    written = text if closed_size is None else plain
    return {
        "symbol": fill.symbol,
        "orderType": ORDER_TYPES[state.order_type] if state else "Limit",
        "underlyingPrice": "",
        "orderLinkId": fill.client_order_id,
        "side": SIDES[fill.side],
        "indexPrice": "",
        "orderId": fill.exchange_order_id,
        "stopOrderType": "",
        "leavesQty": text(state.remaining_quantity if state and state.status.is_open else Decimal(0)),
        "execTime": str(to_ms(fill.time)),
        "feeCurrency": fill.fee_asset,
        "isMaker": fill.is_maker,
        "execFee": written(fill.fee),
        "feeRate": written((fill.fee / fee_base).quantize(Decimal("0.000001"))) if fee_base else "0",
        "execId": fill.trade_id,
        "tradeIv": "",
        "blockTradeId": "",
        "markPrice": text(fill.price),
        "execPrice": text(fill.price),
        "markIv": "",
        "orderQty": text(state.quantity) if state else text(fill.quantity),
        "orderPrice": text(state.price) if state and state.price is not None else text(fill.price),
        "execValue": text(value),
        "execType": "Trade",
        "execQty": text(fill.quantity),
        "closedSize": "" if closed_size is None else plain(closed_size),
        "extraFees": "",
        "seq": seq,
    }


def risk_limit(symbol: str, risk_id: int, tier: RiskTier) -> Json:
    """One tier as Bybit's /v5/market/risk-limit lists it (auto risk limit: the tier follows the
    position's value)."""
    return {
        "id": risk_id,
        "symbol": symbol,
        "riskLimitValue": plain(tier.limit),
        "maintenanceMargin": plain(tier.maintenance_rate),
        "initialMargin": plain(tier.initial_rate),
        "isLowestRisk": 1 if risk_id == 1 else 0,
        "maxLeverage": f"{tier.max_leverage:.2f}",
        "mmDeduction": plain(tier.deduction) if tier.deduction else "",
    }


def funding_execution(payment: FundingPayment, seq: int, quote: str) -> Json:
    """A funding settlement as Bybit lists it among executions: execType "Funding", the fee the
    position paid (negative: received) at the rate, on the position's value at the mark."""
    size = abs(payment.size)
    return {
        "symbol": payment.symbol,
        "orderType": "UNKNOWN",
        "underlyingPrice": "",
        "orderLinkId": "",
        "side": SIDES[Side.BUY if payment.size > 0 else Side.SELL],
        "indexPrice": "",
        "orderId": "",
        "stopOrderType": "UNKNOWN",
        "leavesQty": "0",
        "execTime": str(to_ms(payment.time)),
        "feeCurrency": quote,
        "isMaker": False,
        "execFee": plain(-payment.amount),
        "feeRate": plain(payment.rate),
        "execId": payment.payment_id,
        "tradeIv": "",
        "blockTradeId": "",
        "markPrice": plain(payment.mark_price),
        "execPrice": plain(payment.mark_price),
        "markIv": "",
        "orderQty": "0",
        "orderPrice": "0",
        "execValue": plain(size * payment.mark_price),
        "execType": "Funding",
        "execQty": plain(size),
        "closedSize": "0",
        "extraFees": "",
        "seq": seq,
    }


def wallet(balances: Mapping[str, Balance], usd_prices: Mapping[str, Decimal]) -> Json:
    coins = [_coin(item, usd_prices.get(item.asset, Decimal(0))) for item in balances.values() if item.total]
    equity = sum(
        (item.total * usd_prices.get(item.asset, Decimal(0)) for item in balances.values()), Decimal(0)
    )
    total = text(equity.quantize(Decimal("0.00000001")))
    account = {
        "totalEquity": total,
        "accountIMRate": "0",
        "accountIMRateByMp": "0",
        "totalMarginBalance": total,
        "totalInitialMargin": "0",
        "totalInitialMarginByMp": "0",
        "accountType": "UNIFIED",
        "totalAvailableBalance": total,
        "accountMMRate": "0",
        "accountMMRateByMp": "0",
        "totalPerpUPL": "0",
        "totalWalletBalance": total,
        "accountLTV": "0",
        "totalMaintenanceMargin": "0",
        "totalMaintenanceMarginByMp": "0",
        "coin": coins,
    }
    return {"list": [account]}


def _coin(item: Balance, usd_price: Decimal) -> Json:
    return {
        "availableToBorrow": "",
        "bonus": "0",
        "accruedInterest": "0",
        "availableToWithdraw": text(item.free),
        "totalOrderIM": "0",
        "equity": text(item.total),
        "totalPositionMM": "0",
        "usdValue": text((item.total * usd_price).quantize(Decimal("0.00000001"))),
        "spotHedgingQty": "0",
        "unrealisedPnl": "0",
        "collateralSwitch": True,
        "borrowAmount": "0",
        "totalPositionIM": "0",
        "walletBalance": text(item.total),
        "cumRealisedPnl": "0",
        "locked": text(item.locked),
        "marginCollateral": True,
        "coin": item.asset,
        "spotBorrow": "0",
    }


def api_key_info(key: KeyConfig, created: datetime, user_id: int) -> Json:
    wallet_permissions = ["AccountTransfer", "SubMemberTransfer"] + (["Withdraw"] if key.can_withdraw else [])
    return {
        "id": str(user_id),
        "note": key.note,
        "apiKey": key.api_key,
        "readOnly": 1 if key.read_only else 0,
        "secret": "",
        "permissions": {
            "ContractTrade": [],
            "Spot": ["SpotTrade"] if key.can_trade_spot and not key.read_only else [],
            "Wallet": wallet_permissions,
            "Options": [],
            "Derivatives": [],
            "CopyTrading": [],
            "BlockTrade": [],
            "Exchange": ["ExchangeHistory"],
            "NFT": [],
            "Affiliate": [],
            "Earn": [],
            "FiatP2P": [],
            "FiatConvertBroker": [],
            "FiatGlobalPay": [],
            "FiatBitPay": [],
            "BitCard": [],
            "ByXPost": [],
        },
        "ips": list(key.ips),
        "type": 1,
        "deadlineDay": -2 if key.ip_bound else 90,
        "expiredAt": _iso(created + KEY_LIFETIME) if not key.ip_bound else "1970-01-01T00:00:00Z",
        "createdAt": _iso(created),
        "unified": 0,
        "uta": 1,
        "userID": user_id,
        "inviterID": 0,
        "vipLevel": "No VIP",
        "mktMakerLevel": "0",
        "affiliateID": 0,
        "rsaPublicKey": "",
        "isMaster": True,
        "parentUid": "0",
        "kycLevel": "LEVEL_1",
        "kycRegion": "",
        "userIDInt64": str(user_id),
        "inviterIDInt64": "0",
        "affiliateIDInt64": "0",
    }


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


# USDT perpetuals. Field sets follow Bybit's examples: instruments_info_linear_usdt_perp_response.clean.json,
# tickers_inverse_response.json (the docs have no linear ticker example; the derivatives shape is shared) and
# position_list_response.json.

# 2020-03-30, BTCUSDT's launch in Bybit's example.
LINEAR_LAUNCH_MS = "1585526400000"


def linear_instrument(
    item: Instrument, symbol_id: int, max_leverage: Decimal, leverage_step: Decimal
) -> Json:
    return {
        "symbol": item.symbol,
        "symbolId": symbol_id,
        "contractType": "LinearPerpetual",
        "status": "Trading",
        "baseCoin": item.base,
        "quoteCoin": item.quote,
        "launchTime": LINEAR_LAUNCH_MS,
        "deliveryTime": "0",
        "deliveryFeeRate": "",
        "priceScale": str(max(0, -item.tick_size.normalize().as_tuple().exponent)),  # type: ignore[operator]
        "leverageFilter": {
            "minLeverage": "1",
            "maxLeverage": format(max_leverage, ".2f"),
            "leverageStep": text(leverage_step),
        },
        "priceFilter": {
            "minPrice": text(item.tick_size),
            "maxPrice": "1999999.80",
            "tickSize": format(item.tick_size, ".2f"),
        },
        "lotSizeFilter": {
            "maxOrderQty": text(item.max_quantity),
            "minOrderQty": text(item.min_quantity),
            "qtyStep": text(item.quantity_step),
            "postOnlyMaxOrderQty": text(item.max_quantity),
            "maxMktOrderQty": text(item.max_market_quantity),
            "minNotionalValue": text(item.min_amount),
        },
        "unifiedMarginTrade": True,
        "fundingInterval": 480,
        "settleCoin": item.quote,
        "copyTrading": "both",
        "upperFundingRate": "0.00375",
        "lowerFundingRate": "-0.00375",
        "isPreListing": False,
        "preListingInfo": None,
        "riskParameters": {"priceLimitRatioX": "0.01", "priceLimitRatioY": "0.02"},
        "symbolType": "",
    }


def linear_ticker(item: Ticker, day: list[Candle], funding_rate: Decimal, next_funding: datetime) -> Json:
    """The mark and index prices are the paper market's last price (it has no separate index)."""
    spot = ticker(item, day)
    return {
        "symbol": item.symbol,
        "lastPrice": spot["lastPrice"],
        "indexPrice": spot["lastPrice"],
        "markPrice": spot["lastPrice"],
        "prevPrice24h": spot["prevPrice24h"],
        "price24hPcnt": spot["price24hPcnt"],
        "highPrice24h": spot["highPrice24h"],
        "lowPrice24h": spot["lowPrice24h"],
        "prevPrice1h": spot["prevPrice24h"],
        "openInterest": "0",
        "openInterestValue": "0",
        "turnover24h": spot["turnover24h"],
        "volume24h": spot["volume24h"],
        "fundingRate": text(funding_rate),
        "nextFundingTime": str(to_ms(next_funding)),
        "predictedDeliveryPrice": "",
        "basisRate": "",
        "deliveryFeeRate": "",
        "deliveryTime": "0",
        "ask1Size": "1",
        "bid1Price": spot["bid1Price"],
        "ask1Price": spot["ask1Price"],
        "bid1Size": "1",
        "basis": "",
        "preOpenPrice": "",
        "preQty": "",
        "curPreListingPhase": "",
        "fundingIntervalHour": "8",
        "basisRateYear": "",
        "fundingCap": "0.00375",
    }


_POSITION_SIDES = {PositionSide.LONG: "Buy", PositionSide.SHORT: "Sell"}


def plain(value: Decimal) -> str:
    """Without the trailing zeros the paper books' 18 places carry."""
    return format(value.normalize(), "f") if value else "0"


def position(
    item: Position, *, risk_id: int, risk_limit: Decimal, initial: Decimal, maintenance: Decimal
) -> Json:
    value = item.size * item.entry_price
    return {
        "positionIdx": 0,
        "riskId": risk_id,
        "riskLimitValue": plain(risk_limit),
        "symbol": item.symbol,
        "side": _POSITION_SIDES[item.side] if item.side else "",
        "size": plain(item.size),
        "avgPrice": plain(item.entry_price),
        "positionValue": plain(value),
        "tradeMode": 1,  # isolated margin
        "positionStatus": "Normal",
        "autoAddMargin": 0,
        "adlRankIndicator": 2 if item.side else 0,
        "leverage": plain(item.leverage),
        "breakEvenPrice": plain(item.entry_price),
        "positionBalance": plain(item.position_margin),
        "markPrice": plain(item.mark_price),
        "liqPrice": plain(item.liquidation_price) if item.liquidation_price is not None else "",
        "bustPrice": plain(item.bankruptcy_price) if item.bankruptcy_price is not None else "",
        "positionMM": plain(maintenance),
        "positionMMByMp": plain(maintenance),
        "positionIM": plain(initial),
        "positionIMByMp": plain(initial),
        "tpslMode": "Full",
        "takeProfit": "0.00",
        "stopLoss": "0.00",
        "trailingStop": "0.00",
        "unrealisedPnl": plain(item.unrealised_pnl),
        "curRealisedPnl": plain(item.realised_pnl),
        "cumRealisedPnl": plain(item.realised_pnl),
        "seq": now_ms(),
        "isReduceOnly": False,
        "mmrSysUpdateTime": "",
        "leverageSysUpdatedTime": "",
        "sessionAvgPrice": "",
        "createdTime": LINEAR_LAUNCH_MS,
        "updatedTime": str(now_ms()),
    }


def funding(item: FundingRate) -> Json:
    return {
        "symbol": item.symbol,
        "fundingRate": plain(item.rate),
        "fundingRateTimestamp": str(to_ms(item.time)),
    }
