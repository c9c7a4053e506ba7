"""The Bybit v5 endpoints, spot and USDT perpetuals (linear), as calls on a paper exchange.

Each handler reads Bybit's parameters, asks the paper engine, and writes Bybit's
records. There is no trading logic here: the engine's errors go back to the
client through the retCode table in `exchanges.bybit.codes`.
"""

from __future__ import annotations

import threading
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from typing import Any

from exchanges.base import (
    CANDLE_INTERVALS,
    KLINES_MAX,
    Exchange,
    ExchangeUnavailable,
    Fill,
    FundingPayment,
    InstrumentKind,
    InvalidOrder,
    InvalidOrderReason,
    OrderNotFound,
    OrderRequest,
    OrderState,
    OrderType,
    Side,
    TimeInForce,
)
from exchanges.bybit import codes
from exchanges.bybit.convert import INTERVALS, ORDER_TYPES, SIDES, TIME_IN_FORCE, from_ms
from exchanges.market_data import store
from exchanges.market_data.files import REPLAY_VENUE, newest_shipped
from exchanges.paper import perpetual
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.instruments import LEVERAGE_STEP, MAX_LEVERAGE
from exchanges.perpetuals import margin
from exchanges.simulator import records
from exchanges.simulator.auth import KeyConfig, Rejection

Json = dict[str, Any]
Params = dict[str, Any]
EngineFor = Callable[[KeyConfig | None], Exchange]

SPOT = "spot"
LINEAR = "linear"
BOTH = (SPOT, LINEAR)
FUNDING_PAGE = 200  # Bybit's most funding records per request
EXECUTION_WINDOW = timedelta(days=7)
_OUR_INTERVALS = {theirs: ours for ours, theirs in INTERVALS.items()}
_TIME_IN_FORCE = {theirs: ours for ours, theirs in TIME_IN_FORCE.items()}


def _param_error(message: str) -> Rejection:
    return Rejection.of(codes.PARAMETER_ERROR, message)


def _spot(params: Params, *, default: str | None = None) -> None:
    _category(params, (SPOT,), default=default)


def _category(params: Params, allowed: tuple[str, ...], *, default: str | None = None) -> str:
    category = params.get("category", default)
    if category is None:
        raise _param_error("Missing some parameters that must be filled in, category")
    if category not in allowed:
        raise _param_error(codes.ILLEGAL_CATEGORY_MESSAGE)
    return str(category)


def _limit(params: Params, default: int, maximum: int) -> int:
    try:
        value = int(params.get("limit", default))
    except (TypeError, ValueError) as exc:
        raise _param_error("limit is not a number") from exc
    return max(1, min(value, maximum))


def _offset(params: Params) -> int:
    cursor = str(params.get("cursor") or "0")
    if not cursor.isdigit():
        raise _param_error("Invalid cursor")
    return int(cursor)


def _page(items: list[Any], params: Params, limit: int) -> tuple[list[Any], str]:
    start = _offset(params)
    page = items[start : start + limit]
    more = start + limit < len(items)
    return page, str(start + limit) if more else ""


def _decimal(params: Params, name: str) -> Decimal:
    value = params.get(name)
    if value in (None, ""):
        raise Rejection.of(170105, f"Parameter '{name}' was empty.")
    try:
        number = Decimal(str(value))
    except InvalidOperation as exc:
        raise Rejection.of(170130, f"Data sent for paramter '{name}' is not valid.") from exc
    if not number.is_finite():
        raise Rejection.of(170130, f"Data sent for paramter '{name}' is not valid.")
    return number


def _ms(params: Params, name: str) -> datetime | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    if not str(value).isdigit():
        raise _param_error(f"{name} is not number")
    return from_ms(str(value))


def _by_value(mapping: dict[Any, str], value: Any, code: int, message: str) -> Any:
    for ours, theirs in mapping.items():
        if theirs == value:
            return ours
    raise Rejection.of(code, message)


@dataclass
class _Placed:
    time_in_force: str


class BybitApi:
    """Endpoint handlers. `engine_for(key)` gives the paper exchange of a key's account."""

    def __init__(self, engine_for: EngineFor, *, candle_venue: str = REPLAY_VENUE) -> None:
        self._engine_for = engine_for
        self._candle_venue = candle_venue
        self._placed: dict[tuple[str, str], _Placed] = {}
        self._placed_lock = threading.Lock()

    # Market ----------------------------------------------------------------

    def server_time(self, params: Params, key: KeyConfig | None) -> Json:
        return records.server_time()

    def instruments_info(self, params: Params, key: KeyConfig | None) -> Json:
        if _category(params, BOTH) == LINEAR:
            return self._linear_instruments(params)
        engine = self._engine_for(None)
        items = engine.instruments()
        listed = [
            records.instrument(item, index)
            for index, item in enumerate(items, start=1)
            if params.get("symbol") in (None, "", item.symbol)
        ]
        return {"category": SPOT, "list": listed}

    def tickers(self, params: Params, key: KeyConfig | None) -> Json:
        category = _category(params, BOTH)
        engine = self._engine_for(None)
        now = datetime.now(UTC)
        listed = []
        symbols = (
            self._linear_symbols(engine, params.get("symbol"))
            if category == LINEAR
            else self._symbols(engine, params.get("symbol"))
        )
        for symbol in symbols:
            day = engine.candles(symbol, "1h", now - timedelta(hours=24), now)
            if category == LINEAR:
                upcoming = perpetual.funding_times(now, now + perpetual.FUNDING_INTERVAL)[0]
                listed.append(
                    records.linear_ticker(engine.ticker(symbol), day, perpetual.PAPER_FUNDING_RATE, upcoming)
                )
            else:
                listed.append(records.ticker(engine.ticker(symbol), day))
        return {"category": category, "list": listed}

    def kline(self, params: Params, key: KeyConfig | None) -> Json:
        """The candle store's series of `candle_venue` where it holds candles for the range asked;
        else, for the replay venue, the shipped file of that series; else the paper market's own
        history (the intervals the paper engine keeps)."""
        _spot(params, default="linear")  # Bybit's default category for kline
        interval = _OUR_INTERVALS.get(str(params.get("interval", "")))
        if interval is None:
            raise _param_error("Invalid period")
        limit = _limit(params, 200, KLINES_MAX)
        end = _ms(params, "end") or datetime.now(UTC)
        start = _ms(params, "start")
        engine = self._engine_for(None)
        symbol = str(params.get("symbol", ""))
        self._known(engine, symbol)
        newest_first = store.newest_candles(self._candle_venue, symbol, interval, start, end, limit)
        if not newest_first and self._candle_venue == REPLAY_VENUE:
            newest_first = newest_shipped(symbol, interval, start, end, limit)
        if not newest_first and interval in CANDLE_INTERVALS:
            since = start or end - CANDLE_INTERVALS[interval] * limit
            candles = engine.candles(symbol, interval, since, end)
            newest_first = sorted(candles, key=lambda candle: candle.open_time, reverse=True)[:limit]
        return {"symbol": symbol, "category": SPOT, "list": [records.kline_row(c) for c in newest_first]}

    def fee_rate(self, params: Params, key: KeyConfig | None) -> Json:
        category = _category(params, BOTH)
        engine = self._engine_for(key)
        if category == LINEAR:
            items = [engine.perpetual_instrument(symbol) for symbol in self._linear_symbols(engine, None)]
        else:
            items = engine.instruments()
        items = [item for item in items if params.get("symbol") in (None, "", item.symbol)]
        return {"category": category, "list": [records.fee_rate(item) for item in items]}

    # Orders ----------------------------------------------------------------

    def create_order(self, params: Params, key: KeyConfig | None) -> Json:
        category = _category(params, BOTH)
        assert key is not None
        self._require_trading(key)
        engine = self._engine_for(key)
        request = self._order_request(engine, params, InstrumentKind(category))
        try:
            state = engine.place_order(request)
        except InvalidOrder as exc:
            if exc.reason is not InvalidOrderReason.POST_ONLY_WOULD_TAKE:
                raise
            # Bybit v5 accepts a post-only order that would take liquidity, then rejects it: the
            # create answers retCode 0, and the order reads back Rejected, EC_PostOnlyWillTakeLiquidity.
            state = engine.order(request.symbol, request.client_order_id, kind=request.kind)
        with self._placed_lock:
            self._placed[(key.api_key, state.client_order_id)] = _Placed(
                str(params.get("timeInForce") or ("IOC" if request.order_type is OrderType.MARKET else "GTC"))
            )
        return {"orderId": state.exchange_order_id, "orderLinkId": state.client_order_id}

    def _order_request(
        self, engine: Exchange, params: Params, kind: InstrumentKind = InstrumentKind.SPOT
    ) -> OrderRequest:
        symbol = str(params.get("symbol") or "")
        linear = kind is InstrumentKind.LINEAR
        if linear:
            self._linear_symbols(engine, symbol)
            if str(params.get("positionIdx", 0)) != "0":
                raise _param_error("position idx not match position mode")
        else:
            self._known(engine, symbol)
        side: Side = _by_value(SIDES, params.get("side"), 170117, "Invalid side.")
        order_type: OrderType = _by_value(ORDER_TYPES, params.get("orderType"), 170116, "Invalid orderType.")
        tif = _TIME_IN_FORCE.get(str(params.get("timeInForce") or "GTC"))
        if tif is None:
            raise Rejection.of(170115, "Invalid timeInForce.")
        quantity = _decimal(params, "qty")
        price = _decimal(params, "price") if order_type is OrderType.LIMIT else None
        if not linear and order_type is OrderType.MARKET and self._in_quote(side, params):
            quantity = self._base_quantity(engine, symbol, quantity)
        try:
            return OrderRequest(
                symbol=symbol,
                side=side,
                order_type=order_type,
                quantity=quantity,
                client_order_id=str(params.get("orderLinkId") or uuid.uuid4().hex),
                price=price,
                time_in_force=tif if order_type is OrderType.LIMIT else TimeInForce.IOC,
                kind=kind,
                reduce_only=linear and params.get("reduceOnly") in (True, "true", "True", 1, "1"),
            )
        except ValueError as exc:
            raise _param_error(str(exc)) from exc

    @staticmethod
    def _in_quote(side: Side, params: Params) -> bool:
        """A spot market buy counts its qty in the quote coin unless told otherwise."""
        unit = params.get("marketUnit")
        if unit not in (None, "", "baseCoin", "quoteCoin"):
            raise _param_error("Invalid marketUnit")
        return unit == "quoteCoin" or (not unit and side is Side.BUY)

    @staticmethod
    def _base_quantity(engine: Exchange, symbol: str, amount: Decimal) -> Decimal:
        item = engine.instrument(symbol)
        return item.round_quantity(amount / engine.ticker(symbol).ask, ROUND_DOWN)

    def cancel_order(self, params: Params, key: KeyConfig | None) -> Json:
        kind = InstrumentKind(_category(params, BOTH))
        assert key is not None
        self._require_trading(key)
        engine = self._engine_for(key)
        symbol = str(params.get("symbol") or "")
        if kind is InstrumentKind.LINEAR:
            if not symbol:
                raise _param_error("symbol is required")
            self._linear_symbols(engine, symbol)
        state = self._open_order(engine, symbol, params, kind)
        engine.cancel_order(symbol, client_order_id=state.client_order_id, kind=kind)
        return {"orderId": state.exchange_order_id, "orderLinkId": state.client_order_id}

    def _open_order(self, engine: Exchange, symbol: str, params: Params, kind: InstrumentKind) -> OrderState:
        link_id, order_id = params.get("orderLinkId"), params.get("orderId")
        if not link_id and not order_id:
            raise _param_error("orderId or orderLinkId is required")
        for state in engine.open_orders(symbol, kind=kind):
            if state.client_order_id == link_id or state.exchange_order_id == order_id:
                return state
        if kind is InstrumentKind.LINEAR:
            raise Rejection.of(codes.LINEAR_ORDER_NOT_FOUND)  # derivatives have a code of their own
        raise OrderNotFound("Order does not exist.")

    def cancel_all(self, params: Params, key: KeyConfig | None) -> Json:
        kind = InstrumentKind(_category(params, BOTH))
        assert key is not None
        self._require_trading(key)
        engine = self._engine_for(key)
        cancelled: list[Json] = []
        for symbol in self._symbols_of(engine, params, kind, coin_required=True):
            order_ids = {
                state.client_order_id: state.exchange_order_id
                for state in engine.open_orders(symbol, kind=kind)
            }
            for link_id in engine.cancel_all_orders(symbol, kind=kind):
                cancelled.append({"orderId": order_ids.get(link_id, ""), "orderLinkId": link_id})
        return {"list": cancelled, "success": "1"}

    def realtime(self, params: Params, key: KeyConfig | None) -> Json:
        kind = InstrumentKind(_category(params, BOTH))
        assert key is not None
        engine = self._engine_for(key)
        open_only = str(params.get("openOnly", "0")) == "0"
        symbols = self._symbols_of(engine, params, kind, coin_required=True)
        listed = self._orders(
            engine, params, symbols, kind, lambda symbol: engine.open_orders(symbol, kind=kind)
        )
        states = [state for state in listed if state.status.is_open == open_only]
        return self._order_page(engine, key, states, params, realtime=True, category=kind.value)

    def history(self, params: Params, key: KeyConfig | None) -> Json:
        kind = InstrumentKind(_category(params, BOTH))
        assert key is not None
        engine = self._engine_for(key)
        wanted = _offset(params) + _limit(params, 20, 50) + 1
        symbols = self._symbols_of(engine, params, kind)
        listed = self._orders(
            engine, params, symbols, kind, lambda symbol: engine.order_history(symbol, wanted, kind=kind)
        )
        states = [state for state in listed if not state.status.is_open]
        return self._order_page(engine, key, states, params, realtime=False, category=kind.value)

    def _symbols_of(
        self, engine: Exchange, params: Params, kind: InstrumentKind, *, coin_required: bool = False
    ) -> list[str]:
        """The symbols a request names. A derivatives request names a symbol, or a settle or base coin
        where Bybit requires one of them (open orders, cancel all)."""
        symbol = params.get("symbol")
        if kind is InstrumentKind.SPOT:
            return self._symbols(engine, symbol)
        if symbol:
            return self._linear_symbols(engine, symbol)
        settle, base = params.get("settleCoin"), params.get("baseCoin")
        if coin_required and not settle and not base:
            raise _param_error("symbol, baseCoin or settleCoin is required")
        return [
            item
            for item in self._linear_symbols(engine, None)
            if settle in (None, "", perpetual.SETTLEMENT)
            and base in (None, "", engine.perpetual_instrument(item).base)
        ]

    def _orders(
        self,
        engine: Exchange,
        params: Params,
        symbols: list[str],
        kind: InstrumentKind,
        listing: Callable[[str], list[OrderState]],
    ) -> list[OrderState]:
        link_id, order_id = params.get("orderLinkId"), params.get("orderId")
        if link_id:
            return [
                state for symbol in symbols for state in self._maybe_order(engine, symbol, str(link_id), kind)
            ]
        states = [state for symbol in symbols for state in listing(symbol)]
        return [state for state in states if not order_id or state.exchange_order_id == order_id]

    @staticmethod
    def _maybe_order(engine: Exchange, symbol: str, link_id: str, kind: InstrumentKind) -> list[OrderState]:
        try:
            return [engine.order(symbol, link_id, kind=kind)]
        except OrderNotFound:
            return []

    def _order_page(
        self,
        engine: Exchange,
        key: KeyConfig,
        states: list[OrderState],
        params: Params,
        *,
        realtime: bool,
        category: str = SPOT,
    ) -> Json:
        ordered = sorted(states, key=lambda state: state.created_at, reverse=True)
        page, cursor = _page(ordered, params, _limit(params, 20, 50))
        fees = self._fees(engine, page)
        listed = [records.order(state, self._extras(key, state, fees), realtime=realtime) for state in page]
        return {"list": listed, "nextPageCursor": cursor, "category": category}

    def _extras(
        self, key: KeyConfig, state: OrderState, fees: dict[str, tuple[Decimal, str]]
    ) -> records.OrderExtras:
        with self._placed_lock:
            placed = self._placed.get((key.api_key, state.client_order_id))
        default_tif = "IOC" if state.order_type is OrderType.MARKET else "GTC"
        fee, asset = fees.get(state.exchange_order_id, (Decimal(0), ""))
        return records.OrderExtras(placed.time_in_force if placed else default_tif, fee, asset)

    @staticmethod
    def _fees(engine: Exchange, states: Iterable[OrderState]) -> dict[str, tuple[Decimal, str]]:
        """Fees paid per order id, summed over its fills."""
        earliest: dict[tuple[str, InstrumentKind], datetime] = {}
        for state in states:
            if state.filled_quantity > 0:
                market = (state.symbol, state.kind)
                earliest[market] = min(earliest.get(market, state.created_at), state.created_at)
        totals: defaultdict[str, Decimal] = defaultdict(Decimal)
        assets: dict[str, str] = {}
        for (symbol, kind), since in earliest.items():
            for fill in engine.fills_since(symbol, since, kind=kind):
                totals[fill.exchange_order_id] += fill.fee
                assets[fill.exchange_order_id] = fill.fee_asset
        return {order_id: (total, assets[order_id]) for order_id, total in totals.items()}

    # Positions and funding (linear) ------------------------------------------

    def _linear_instruments(self, params: Params) -> Json:
        engine = self._engine_for(None)
        listed = [
            records.linear_instrument(
                engine.perpetual_instrument(symbol), index, MAX_LEVERAGE[symbol], LEVERAGE_STEP
            )
            for index, symbol in enumerate(
                self._linear_symbols(engine, params.get("symbol") or None), start=1
            )
        ]
        return {"category": LINEAR, "list": listed, "nextPageCursor": ""}

    def position_list(self, params: Params, key: KeyConfig | None) -> Json:
        _category(params, (LINEAR,))
        assert key is not None
        symbol, settle = params.get("symbol"), params.get("settleCoin")
        if not symbol and not settle:
            raise _param_error("symbol or settleCoin is required")
        engine = self._engine_for(key)
        if symbol:
            self._linear_symbols(engine, symbol)
            positions = engine.positions(str(symbol))
        else:
            positions = engine.positions() if settle == "USDT" else []
        return {
            "list": [self._position(item) for item in positions],
            "nextPageCursor": "",
            "category": LINEAR,
        }

    @staticmethod
    def _position(item: Any) -> Json:
        tiers = margin.RISK_TIERS[item.symbol]
        value = item.size * item.entry_price
        tier = margin.tier_for(value, tiers)
        initial = margin.initial_margin(value, item.leverage)
        maintenance = margin.maintenance_margin(value, tiers)
        return records.position(
            item,
            risk_id=tiers.index(tier) + 1,
            risk_limit=tier.limit,
            initial=initial,
            maintenance=maintenance,
        )

    def set_leverage(self, params: Params, key: KeyConfig | None) -> Json:
        _category(params, (LINEAR,))
        assert key is not None
        self._require_trading(key)
        engine = self._engine_for(key)
        symbol = str(params.get("symbol") or "")
        self._linear_symbols(engine, symbol)
        buy, sell = _decimal(params, "buyLeverage"), _decimal(params, "sellLeverage")
        if buy != sell:
            raise _param_error("buy leverage not equal sell leverage")  # one-way mode needs one leverage
        (current,) = engine.positions(symbol)
        if current.leverage == buy:
            raise Rejection.of(codes.LEVERAGE_NOT_MODIFIED)
        engine.set_leverage(symbol, buy)
        return {}

    def switch_mode(self, params: Params, key: KeyConfig | None) -> Json:
        """mode 0 is one-way, 3 hedge. The paper venue keeps the mode but trades one-way only."""
        _category(params, (LINEAR,))
        assert key is not None
        self._require_trading(key)
        engine = self._engine_for(key)
        symbol = str(params.get("symbol") or "")
        self._linear_symbols(engine, symbol)
        mode = str(params.get("mode", ""))
        if mode not in ("0", "3"):
            raise _param_error("Invalid mode")
        assert isinstance(engine, PaperExchange)  # the simulator is backed by the paper venue
        if not perpetual.set_hedge_mode(engine.account.pk, symbol, hedge=mode == "3"):
            raise Rejection.of(codes.POSITION_MODE_NOT_MODIFIED)
        return {}

    def funding_history(self, params: Params, key: KeyConfig | None) -> Json:
        """Bybit's rules: only a startTime is an error; only an endTime gives the records up to it."""
        _category(params, (LINEAR,))
        engine = self._engine_for(None)
        symbol = str(params.get("symbol") or "")
        self._linear_symbols(engine, symbol)
        start, end = _ms(params, "startTime"), _ms(params, "endTime")
        if start and not end:
            raise _param_error("endTime is required when startTime is given")
        limit = _limit(params, FUNDING_PAGE, FUNDING_PAGE)
        rates = [rate for rate in engine.funding_history(symbol, start) if end is None or rate.time <= end]
        newest_first = sorted(rates, key=lambda rate: rate.time, reverse=True)[:limit]
        return {"category": LINEAR, "list": [records.funding(rate) for rate in newest_first]}

    def risk_limit(self, params: Params, key: KeyConfig | None) -> Json:
        """Every listed perpetual's tiers, or `symbol`'s."""
        _category(params, (LINEAR,))
        engine = self._engine_for(None)
        rows = [
            records.risk_limit(symbol, index, tier)
            for symbol in self._linear_symbols(engine, params.get("symbol"))
            for index, tier in enumerate(engine.risk_tiers(symbol), start=1)
        ]
        return {"category": LINEAR, "list": rows, "nextPageCursor": ""}

    @staticmethod
    def _linear_symbols(engine: Exchange, symbol: Any) -> list[str]:
        """The perpetuals listed (or `symbol`, if it is one)."""
        candidates = [str(symbol)] if symbol else [item.symbol for item in engine.instruments()]
        listed = []
        for candidate in candidates:
            try:
                engine.perpetual_instrument(candidate)
            except InvalidOrder:
                if symbol:
                    raise Rejection.of(10001, "params error: symbol invalid") from None
                continue
            listed.append(candidate)
        return listed

    # Executions and account ------------------------------------------------

    def executions(self, params: Params, key: KeyConfig | None) -> Json:
        kind = InstrumentKind(_category(params, BOTH))
        assert key is not None
        engine = self._engine_for(key)
        start, end = self._execution_window(params)
        symbols = self._symbols_of(engine, params, kind)
        wanted = params.get("execType") or None
        entries: list[Fill | FundingPayment] = []
        if wanted in (None, "Trade"):
            entries += [
                fill
                for symbol in symbols
                for fill in engine.fills_since(symbol, start, kind=kind)
                if fill.time <= end and self._matches(fill, params)
            ]
        if wanted in (None, "Funding") and kind is InstrumentKind.LINEAR and not _names_an_order(params):
            entries += [
                payment
                for symbol in symbols
                for payment in engine.funding_payments(symbol, start)
                if payment.time <= end
            ]
        entries.sort(key=_execution_order, reverse=True)
        page, cursor = _page(entries, params, _limit(params, 50, 100))
        fills = [entry for entry in page if isinstance(entry, Fill)]
        closed = self._closed_sizes(engine, fills) if kind is InstrumentKind.LINEAR else None
        listed = [
            self._execution(engine, entry, seq, kind, closed)
            if isinstance(entry, Fill)
            else records.funding_execution(entry, seq, engine.perpetual_instrument(entry.symbol).quote)
            for seq, entry in enumerate(page, start=_offset(params) + 1)
        ]
        return {"nextPageCursor": cursor, "category": kind.value, "list": listed}

    @staticmethod
    def _closed_sizes(engine: Exchange, fills: list[Fill]) -> dict[str, Decimal]:
        assert isinstance(engine, PaperExchange)  # the simulator is backed by the paper venue
        return engine.closed_quantities([fill.trade_id for fill in fills])

    @staticmethod
    def _execution_window(params: Params) -> tuple[datetime, datetime]:
        """Bybit's rules: at most seven days, the last seven by default."""
        start, end = _ms(params, "startTime"), _ms(params, "endTime")
        if start and end and end - start > EXECUTION_WINDOW:
            raise _param_error("The time range between startTime and endTime cannot exceed 7 days")
        if start and end and end < start:
            raise _param_error("Parameter startTime needs to be smaller than endTime")
        if start is None:
            end = end or datetime.now(UTC)
            return end - EXECUTION_WINDOW, end
        return start, end or start + EXECUTION_WINDOW

    @staticmethod
    def _matches(fill: Fill, params: Params) -> bool:
        return params.get("orderId") in (None, "", fill.exchange_order_id) and params.get("orderLinkId") in (
            None,
            "",
            fill.client_order_id,
        )

    @staticmethod
    def _execution(
        engine: Exchange, fill: Fill, seq: int, kind: InstrumentKind, closed: dict[str, Decimal] | None
    ) -> Json:
        try:
            state: OrderState | None = engine.order(fill.symbol, fill.client_order_id, kind=kind)
        except OrderNotFound:
            state = None
        if closed is None:
            return records.execution(fill, state, seq, engine.instrument(fill.symbol).quote)
        quote = engine.perpetual_instrument(fill.symbol).quote
        return records.execution(fill, state, seq, quote, closed_size=closed.get(fill.trade_id, Decimal(0)))

    def wallet_balance(self, params: Params, key: KeyConfig | None) -> Json:
        if params.get("accountType") != "UNIFIED":
            raise _param_error("accountType only support UNIFIED")
        assert key is not None
        engine = self._engine_for(key)
        wanted = {coin for coin in str(params.get("coin") or "").split(",") if coin}
        balances = {asset: item for asset, item in engine.balances().items() if not wanted or asset in wanted}
        return records.wallet(balances, self._usd_prices(engine))

    @staticmethod
    def _usd_prices(engine: Exchange) -> dict[str, Decimal]:
        prices = {"USDT": Decimal(1), "USDC": Decimal(1)}
        for item in engine.instruments():
            if item.quote in ("USDT", "USDC") and item.base not in prices:
                try:
                    prices[item.base] = engine.ticker(item.symbol).last
                except ExchangeUnavailable:
                    continue  # a market with no price yet: its coin is valued at 0, not an error
        return prices

    def query_api(self, params: Params, key: KeyConfig | None) -> Json:
        assert key is not None
        user_id = int(uuid.uuid5(uuid.NAMESPACE_URL, key.api_key).int % 100_000_000)
        return records.api_key_info(key, key.created_at, user_id)

    # Shared ----------------------------------------------------------------

    @staticmethod
    def _require_trading(key: KeyConfig) -> None:
        if key.read_only or not key.can_trade_spot:
            raise Rejection.of(codes.PERMISSION_DENIED)

    @staticmethod
    def _known(engine: Exchange, symbol: str) -> None:
        if symbol not in {item.symbol for item in engine.instruments()}:
            raise Rejection.of(170121)

    def _symbols(self, engine: Exchange, symbol: Any) -> list[str]:
        if symbol:
            self._known(engine, str(symbol))
            return [str(symbol)]
        return [item.symbol for item in engine.instruments()]


def _execution_order(entry: Fill | FundingPayment) -> tuple[datetime, str]:
    if isinstance(entry, Fill):
        return entry.time, entry.trade_id
    return entry.time, entry.payment_id


def _names_an_order(params: Params) -> bool:
    """A funding settlement belongs to no order: a query for one order's executions has none."""
    return bool(params.get("orderId") or params.get("orderLinkId"))
