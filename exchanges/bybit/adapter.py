"""`Exchange` for one Bybit account (v5 API: spot, and USDT perpetuals), on top of pybit's HTTP client.

pybit re-sends a request by itself on some retCodes (10002, 10006...) and, with
`force_retry`, on timeouts. An order must reach Bybit at most once, so pybit's
retries are switched off here and reads are retried by this module instead.
"""

from __future__ import annotations

import logging
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.client import RemoteDisconnected
from typing import Any
from urllib.parse import urlsplit

import requests
from pybit.exceptions import FailedRequestError, InvalidRequestError
from pybit.unified_trading import HTTP
from urllib3.exceptions import NameResolutionError

from exchanges.base import (
    KLINES_MAX,
    Balance,
    Candle,
    Exchange,
    ExchangeError,
    ExchangeUnavailable,
    Fill,
    FundingPayment,
    FundingRate,
    Instrument,
    InstrumentKind,
    InvalidOrder,
    InvalidOrderReason,
    KeyPermissions,
    OrderNotFound,
    OrderRequest,
    OrderState,
    OrderStatus,
    OrderType,
    Position,
    RateLimited,
    Ticker,
    TimeInForce,
)
from exchanges.bybit import codes, convert
from exchanges.perpetuals import margin
from exchanges.perpetuals.margin import RiskTier

logger = logging.getLogger(__name__)

ENVIRONMENTS = ("mainnet", "testnet", "demo", "custom")
SPOT = "spot"
LINEAR = "linear"
SETTLE_COIN = convert.LINEAR_SETTLE_COIN
FUNDING_PAGE_LIMIT = 200  # Bybit's largest funding history page
ONE_WAY_MODE = 0
PAGE_LIMIT = 50  # Bybit's maximum page for order lists
EXECUTION_PAGE_LIMIT = 100
# Bybit answers an execution query for at most seven days at a time.
EXECUTION_WINDOW = timedelta(days=7)
# Bybit keeps about two years of executions; older `since` values gain nothing.
EXECUTION_HISTORY = timedelta(days=730)
_UNKNOWN_SYMBOL = InvalidOrderReason.UNKNOWN_SYMBOL
_SPOT = InstrumentKind.SPOT
IP_BAN_SECONDS = 600.0  # Bybit's advice after HTTP 403: wait at least ten minutes

Json = dict[str, Any]
Call = Callable[..., Any]


@dataclass
class _Quota:
    remaining: int
    reset_at: float  # epoch seconds


def _client(
    api_key: str, api_secret: str, environment: str, base_url: str | None, recv_window: int, timeout: float
) -> HTTP:
    http = HTTP(
        api_key=api_key,
        api_secret=api_secret,
        testnet=environment == "testnet",
        demo=environment == "demo",
        recv_window=recv_window,
        timeout=timeout,
        max_retries=1,
        force_retry=False,
        return_response_headers=True,
        logging_level=logging.WARNING,
    )
    # An empty set here would be replaced by pybit's defaults in __post_init__, so set it after.
    http.retry_codes = set()
    if base_url:
        http.endpoint = base_url.rstrip("/")
    return http


def _retry_after(headers: Mapping[str, str] | None, default: float = 1.0) -> float:
    reset = (headers or {}).get("X-Bapi-Limit-Reset-Timestamp")
    if not reset or not reset.isdigit():
        return default
    return max(0.0, int(reset) / 1000 - time.time())


def _http_failure(exc: FailedRequestError) -> ExchangeError:
    status = exc.status_code
    if status == 403:
        return RateLimited(
            "Bybit refused this IP for sending too many requests.", retry_after=IP_BAN_SECONDS, code="403"
        )
    if status == 401:
        return codes.error_for(codes.INVALID_KEY, "Bybit did not accept the API key.")
    return ExchangeUnavailable(f"Bybit did not answer properly (HTTP {status}).", code=str(status))


def _no_reply(exc: requests.RequestException, endpoint: str, timeout: float) -> str:
    """What happened, as a trader can act on it: refused, not found, timed out, cut off."""
    causes = _causes(exc)
    if any(isinstance(cause, ConnectionRefusedError) for cause in causes):
        return "Could not connect to Bybit (connection refused)."
    if any(isinstance(cause, socket.gaierror | NameResolutionError) for cause in causes):
        host = urlsplit(endpoint).hostname or endpoint
        return f"Could not find Bybit's address (the DNS lookup for {host} failed)."
    if isinstance(exc, requests.ConnectTimeout):
        return f"Could not connect to Bybit within {timeout:g} seconds (connection timed out)."
    if isinstance(exc, requests.Timeout):
        return f"Bybit did not answer within {timeout:g} seconds (timed out)."
    if isinstance(exc, requests.exceptions.SSLError):
        return "Could not connect to Bybit securely (TLS error)."
    if any(isinstance(cause, ConnectionResetError | RemoteDisconnected) for cause in causes):
        return "Bybit closed the connection without answering."
    return f"Could not reach Bybit ({type(exc).__name__})."


def _causes(exc: BaseException) -> list[BaseException]:
    """The exception and everything it wraps: requests wraps urllib3, which wraps the socket's error."""
    found: list[BaseException] = []
    waiting: list[object] = [exc]
    while waiting:
        current = waiting.pop()
        if not isinstance(current, BaseException) or any(current is seen for seen in found):
            continue
        found.append(current)
        waiting += [getattr(current, "reason", None), current.__cause__, current.__context__, *current.args]
    return found


@contextmanager
def _reading_reply() -> Iterator[None]:
    try:
        yield
    except (KeyError, IndexError, ValueError, TypeError, ArithmeticError, AttributeError) as exc:
        raise ExchangeUnavailable("Bybit sent a reply we could not read.") from exc


class BybitExchange(Exchange):
    name = "bybit"
    supports_perpetuals = True
    backoff = 0.25  # seconds before the first read retry, doubled each time
    max_wait = 10.0  # longest sleep for a rate-limit reset before giving up with RateLimited
    default_timeout = 10.0
    default_read_retries = 3

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        environment: str = "mainnet",
        base_url: str | None = None,
        recv_window: int = 5000,
        timeout: float = default_timeout,
        read_retries: int = default_read_retries,
    ) -> None:
        if environment not in ENVIRONMENTS:
            raise ValueError(f"environment must be one of {', '.join(ENVIRONMENTS)}")
        if environment == "custom" and not base_url:
            raise ValueError("The custom environment needs a base_url.")
        self.environment = environment
        self.read_retries = read_retries
        self._http = _client(api_key, api_secret, environment, base_url, recv_window, timeout)
        self._quotas: dict[str, _Quota] = {}

    def __repr__(self) -> str:  # never shows the key or secret
        return f"<BybitExchange {self.environment} {self._http.endpoint}>"

    @property
    def endpoint(self) -> str:
        return str(self._http.endpoint)

    # Transport -------------------------------------------------------------

    def _send(self, call: Call, params: Json) -> Json:
        name = call.__name__
        try:
            body, _elapsed, headers = call(**params)
        except InvalidRequestError as exc:
            self._note_quota(name, exc.resp_headers)
            retry_after = _retry_after(exc.resp_headers)
            raise codes.error_for(int(exc.status_code), str(exc.message), retry_after=retry_after) from exc
        except FailedRequestError as exc:
            raise _http_failure(exc) from exc
        except requests.RequestException as exc:
            raise ExchangeUnavailable(_no_reply(exc, self.endpoint, self._http.timeout)) from exc
        except PermissionError as exc:  # pybit's word for "no key configured"
            raise codes.error_for(codes.INVALID_KEY, "No API key is configured.") from exc
        self._note_quota(name, headers)
        with _reading_reply():
            if not isinstance(body["result"], dict):
                raise TypeError("result is not an object")
            return dict(body)

    def _note_quota(self, name: str, headers: Mapping[str, str] | None) -> None:
        status = (headers or {}).get("X-Bapi-Limit-Status")
        if status is not None and status.isdigit():
            self._quotas[name] = _Quota(int(status), time.time() + _retry_after(headers, default=0.0))

    def _quota_wait(self, name: str) -> float:
        quota = self._quotas.get(name)
        if quota is None or quota.remaining > 0:
            return 0.0
        return max(0.0, quota.reset_at - time.time())

    def _read(self, call: Call, **params: Any) -> Json:
        """A read: waits out a spent quota, retries unavailability and rate limits with backoff."""
        for attempt in range(self.read_retries + 1):
            wait = self._quota_wait(call.__name__)
            if wait > self.max_wait:
                raise RateLimited("Bybit's rate limit for this call is spent.", retry_after=wait)
            time.sleep(wait)
            try:
                return self._send(call, params)
            except (ExchangeUnavailable, RateLimited) as exc:
                if attempt == self.read_retries or not self._sleep_before_retry(exc, attempt):
                    raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _sleep_before_retry(self, exc: ExchangeError, attempt: int) -> bool:
        delay = exc.retry_after if isinstance(exc, RateLimited) else self.backoff * 2**attempt
        if delay > self.max_wait:
            return False
        logger.info("Bybit read failed (%s); retrying in %.2fs", exc.code or type(exc).__name__, delay)
        time.sleep(delay)
        return True

    def _write(self, call: Call, **params: Any) -> Json:
        """Sent exactly once: any doubt about the outcome is ExchangeUnavailable."""
        wait = self._quota_wait(call.__name__)
        if wait > 0:
            raise RateLimited("Bybit's rate limit for this call is spent.", retry_after=wait)
        return self._send(call, params)

    def _pages(self, call: Call, **params: Any) -> Iterator[Json]:
        """Every page of a cursor-paginated list."""
        cursor = ""
        while True:
            result = self._read(call, **params, **({"cursor": cursor} if cursor else {}))["result"]
            yield result
            with _reading_reply():
                cursor = result.get("nextPageCursor", "")
                if not cursor or not result["list"]:
                    return

    # Market data -----------------------------------------------------------

    def instruments(self) -> list[Instrument]:
        records = self._read(self._http.get_instruments_info, category=SPOT)["result"]["list"]
        fees = self._fees(None)
        with _reading_reply():
            return [
                convert.instrument(record, fees[record["symbol"]])
                for record in records
                if record["status"] == "Trading" and record["symbol"] in fees
            ]

    def instrument(self, symbol: str) -> Instrument:
        records = self._read(self._http.get_instruments_info, category=SPOT, symbol=symbol)["result"]["list"]
        with _reading_reply():
            found = [record for record in records if record["symbol"] == symbol]
        if not found or found[0]["status"] != "Trading":
            raise InvalidOrder(f"Bybit does not list {symbol} for spot trading.", reason=_UNKNOWN_SYMBOL)
        fees = self._fees(symbol)
        with _reading_reply():
            return convert.instrument(found[0], fees[symbol])

    def _fees(self, symbol: str | None) -> dict[str, Json]:
        """The account's own fee rates, which depend on its VIP level."""
        params = {"category": SPOT} | ({"symbol": symbol} if symbol else {})
        records = self._read(self._http.get_fee_rates, **params)["result"]["list"]
        with _reading_reply():
            return {record["symbol"]: record for record in records}

    def ticker(self, symbol: str) -> Ticker:
        body = self._read(self._http.get_tickers, category=SPOT, symbol=symbol)
        with _reading_reply():
            records = [record for record in body["result"]["list"] if record["symbol"] == symbol]
            if records:
                return convert.ticker(records[0], body["time"])
        raise InvalidOrder(f"Bybit has no ticker for {symbol}.", reason=_UNKNOWN_SYMBOL)

    def candles(self, symbol: str, interval: str, start: datetime, end: datetime) -> list[Candle]:
        found: dict[datetime, Candle] = {}
        until = end
        while until >= start:
            page = self.klines(symbol, interval, start, until, KLINES_MAX)
            found.update((candle.open_time, candle) for candle in page)
            if len(page) < KLINES_MAX:
                break
            until = page[0].open_time - timedelta(milliseconds=1)
        return sorted(found.values(), key=lambda candle: candle.open_time)

    def klines(
        self, symbol: str, interval: str, start: datetime, end: datetime, limit: int = KLINES_MAX
    ) -> list[Candle]:
        if interval not in convert.INTERVALS:
            reason = InvalidOrderReason.BAD_PARAMETER
            raise InvalidOrder(f"Unknown candle interval {interval}.", reason=reason)
        if not 1 <= limit <= KLINES_MAX:
            raise ValueError(f"limit must be between 1 and {KLINES_MAX}.")
        result = self._read(
            self._http.get_kline,
            category=SPOT,
            symbol=symbol,
            interval=convert.INTERVALS[interval],
            start=convert.to_ms(start),
            end=convert.to_ms(end),
            limit=limit,
        )["result"]
        with _reading_reply():
            # Bybit lists the newest first.
            return sorted((convert.candle(row) for row in result["list"]), key=lambda c: c.open_time)

    # Account ---------------------------------------------------------------

    def balances(self) -> dict[str, Balance]:
        result = self._read(self._http.get_wallet_balance, accountType="UNIFIED")["result"]
        with _reading_reply():
            coins = [coin for account in result["list"] for coin in account["coin"]]
            return {coin["coin"]: convert.balance(coin) for coin in coins}

    def check_api_key(self) -> KeyPermissions:
        result = self._read(self._http.get_api_key_information)["result"]
        with _reading_reply():
            return convert.key_permissions(result)

    # Orders ----------------------------------------------------------------

    def place_order(self, request: OrderRequest) -> OrderState:
        result = self._write(self._http.place_order, **_order_params(request))["result"]
        with _reading_reply():
            order_id = str(result["orderId"])
            if not order_id:
                raise ValueError("no orderId in the reply")
        return self._state_after_placement(request, order_id)

    def _state_after_placement(self, request: OrderRequest, order_id: str) -> OrderState:
        """The order's true state; if that read fails, what we know: it was accepted."""
        try:
            return self._order(request.symbol, request.client_order_id, request.kind)
        except ExchangeError as exc:
            logger.info("Order %s accepted; its state is not readable yet (%s)", request.client_order_id, exc)
        now = datetime.now(UTC)
        return OrderState(
            exchange_order_id=order_id,
            client_order_id=request.client_order_id,
            symbol=request.symbol,
            side=request.side,
            order_type=request.order_type,
            price=request.price,
            quantity=request.quantity,
            filled_quantity=convert.decimal("0"),
            average_price=None,
            status=OrderStatus.NEW,
            created_at=now,
            updated_at=now,
            kind=request.kind,
            reduce_only=request.reduce_only,
        )

    def cancel_order(self, symbol: str, *, client_order_id: str, kind: InstrumentKind = _SPOT) -> None:
        self._write(self._http.cancel_order, category=kind.value, symbol=symbol, orderLinkId=client_order_id)

    def cancel_all_orders(self, symbol: str, *, kind: InstrumentKind = _SPOT) -> list[str]:
        result = self._write(self._http.cancel_all_orders, category=kind.value, symbol=symbol)["result"]
        with _reading_reply():
            return [str(record["orderLinkId"]) for record in result["list"]]

    def open_orders(self, symbol: str | None = None, *, kind: InstrumentKind = _SPOT) -> list[OrderState]:
        params: Json = {"category": kind.value, "openOnly": 0, "limit": PAGE_LIMIT}
        if symbol:
            params["symbol"] = symbol
        elif kind is InstrumentKind.LINEAR:
            params["settleCoin"] = SETTLE_COIN  # Bybit needs a symbol or a coin to list derivatives
        states: list[OrderState] = []
        for page in self._pages(self._http.get_open_orders, **params):
            with _reading_reply():
                states.extend(convert.order_state(record, kind) for record in page["list"])
        return [state for state in states if state.status.is_open]

    def order(self, symbol: str, client_order_id: str, *, kind: InstrumentKind = _SPOT) -> OrderState:
        return self._order(symbol, client_order_id, kind)

    def _order(self, symbol: str, client_order_id: str, kind: InstrumentKind) -> OrderState:
        for call in (self._http.get_open_orders, self._http.get_order_history):
            reply = self._read(call, category=kind.value, symbol=symbol, orderLinkId=client_order_id)
            records = reply["result"]["list"]
            with _reading_reply():
                matches = [record for record in records if record["orderLinkId"] == client_order_id]
                if matches:
                    return convert.order_state(matches[0], kind)
        raise OrderNotFound(f"Bybit has no order {client_order_id} on {symbol}.")

    def order_history(
        self, symbol: str, limit: int = 50, *, kind: InstrumentKind = _SPOT
    ) -> list[OrderState]:
        states: list[OrderState] = []
        params = {"category": kind.value, "symbol": symbol, "limit": min(limit, PAGE_LIMIT)}
        for page in self._pages(self._http.get_order_history, **params):
            with _reading_reply():
                states.extend(convert.order_state(record, kind) for record in page["list"])
            if len(states) >= limit:
                break
        finished = [state for state in states if not state.status.is_open]
        return sorted(finished, key=lambda state: state.created_at, reverse=True)[:limit]

    def fills_since(
        self,
        symbol: str,
        since: datetime | None,
        *,
        client_order_prefix: str | None = None,
        kind: InstrumentKind = _SPOT,
    ) -> list[Fill]:
        # The execution list filters by one exact orderLinkId, not by a prefix: every fill of
        # the account comes back, and the caller's cursor moves on with all of them.
        fills: dict[str, Fill] = {}
        for start, end in _execution_windows(since):
            fills.update((fill.trade_id, fill) for fill in self._executions(symbol, start, end, kind))
        return sorted(fills.values(), key=lambda fill: (fill.time, fill.trade_id))

    def risk_tiers(self, symbol: str) -> tuple[RiskTier, ...]:
        reply = self._read(self._http.get_risk_limit, category=LINEAR, symbol=symbol)
        with _reading_reply():
            rows = [row for row in reply["result"]["list"] if row["symbol"] == symbol]
            if not rows:
                raise InvalidOrder(
                    f"Bybit lists no risk limits for a {symbol} perpetual.", reason=_UNKNOWN_SYMBOL
                )
            return margin.tiers_from_risk_limit(rows)

    def funding_payments(self, symbol: str, since: datetime | None = None) -> list[FundingPayment]:
        """The execution list's "Funding" entries: Bybit's position list only folds funding into
        its realised PnL."""
        found: dict[str, FundingPayment] = {}
        for start, end in _execution_windows(since):
            params = {
                "category": LINEAR,
                "symbol": symbol,
                "execType": "Funding",
                "startTime": convert.to_ms(start),
                "endTime": convert.to_ms(end),
                "limit": EXECUTION_PAGE_LIMIT,
            }
            for page in self._pages(self._http.get_executions, **params):
                with _reading_reply():
                    payments = [
                        convert.funding_payment(r) for r in page["list"] if r["execType"] == "Funding"
                    ]
                found.update((payment.payment_id, payment) for payment in payments)
        return sorted(found.values(), key=lambda payment: (payment.time, payment.payment_id))

    # USDT perpetuals ------------------------------------------------------

    def perpetual_instrument(self, symbol: str) -> Instrument:
        reply = self._read(self._http.get_instruments_info, category=LINEAR, symbol=symbol)
        with _reading_reply():
            found = [record for record in reply["result"]["list"] if record["symbol"] == symbol]
        if not found or found[0]["status"] != "Trading":
            raise InvalidOrder(f"Bybit does not list a {symbol} perpetual.", reason=_UNKNOWN_SYMBOL)
        fees = self._read(self._http.get_fee_rates, category=LINEAR, symbol=symbol)["result"]["list"]
        with _reading_reply():
            fee = next(record for record in fees if record["symbol"] == symbol)
            return convert.linear_instrument(found[0], fee)

    def positions(self, symbol: str | None = None) -> list[Position]:
        """`symbol`'s position (flat or not), or every open USDT-settled one."""
        params: Json = {"category": LINEAR, "limit": PAGE_LIMIT}
        params |= {"symbol": symbol} if symbol else {"settleCoin": SETTLE_COIN}
        found: list[Position] = []
        for page in self._pages(self._http.get_positions, **params):
            with _reading_reply():
                found.extend(convert.position(record) for record in page["list"])
        return found if symbol else [item for item in found if not item.is_flat]

    def set_leverage(self, symbol: str, leverage: Decimal) -> None:
        """Idempotent: Bybit's "leverage not modified" (110043) is success here."""
        text = format(leverage, "f")
        self._settle(
            self._http.set_leverage, category=LINEAR, symbol=symbol, buyLeverage=text, sellLeverage=text
        )

    def set_one_way_mode(self, symbol: str) -> None:
        """Idempotent: "position mode not modified" (110025) is success; open orders or a position
        make Bybit refuse a change (PositionModeLocked)."""
        self._settle(self._http.switch_position_mode, category=LINEAR, symbol=symbol, mode=ONE_WAY_MODE)

    def _settle(self, call: Call, **params: Any) -> None:
        """A setting write that is safe to repeat: asking for what is in force is no error."""
        try:
            self._write(call, **params)
        except ExchangeError as exc:
            if exc.code is None or int(exc.code) not in codes.NOT_MODIFIED:
                raise

    def mark_price(self, symbol: str) -> Decimal:
        reply = self._read(self._http.get_tickers, category=LINEAR, symbol=symbol)
        with _reading_reply():
            found = [record for record in reply["result"]["list"] if record["symbol"] == symbol]
            if found:
                return convert.decimal(found[0]["markPrice"])
        raise InvalidOrder(f"Bybit has no {symbol} perpetual ticker.", reason=_UNKNOWN_SYMBOL)

    def funding_history(self, symbol: str, since: datetime | None = None) -> list[FundingRate]:
        """The newest page first (Bybit's default when no time is given), then back by endTime while
        pages come full and `since` is not reached. Bybit refuses a startTime alone."""
        found: dict[datetime, FundingRate] = {}
        params: Json = {"category": LINEAR, "symbol": symbol, "limit": FUNDING_PAGE_LIMIT}
        while True:
            rows = self._read(self._http.get_funding_rate_history, **params)["result"]["list"]
            with _reading_reply():
                page = [convert.funding_rate(row) for row in rows]
            found.update((rate.time, rate) for rate in page if since is None or rate.time >= since)
            oldest = min((rate.time for rate in page), default=None)
            if len(page) < FUNDING_PAGE_LIMIT or oldest is None or (since is not None and oldest <= since):
                break
            params["endTime"] = convert.to_ms(oldest - timedelta(milliseconds=1))
            if since is not None:
                params["startTime"] = convert.to_ms(since)
        return sorted(found.values(), key=lambda rate: rate.time)

    def _executions(self, symbol: str, start: datetime, end: datetime, kind: InstrumentKind) -> list[Fill]:
        params = {
            "category": kind.value,
            "symbol": symbol,
            "startTime": convert.to_ms(start),
            "endTime": convert.to_ms(end),
            "limit": EXECUTION_PAGE_LIMIT,
        }
        found: list[Fill] = []
        for page in self._pages(self._http.get_executions, **params):
            with _reading_reply():
                found.extend(
                    convert.fill(record, kind) for record in page["list"] if record["execType"] == "Trade"
                )
        return found


def _execution_windows(since: datetime | None) -> Iterator[tuple[datetime, datetime]]:
    """The seven-day windows the execution list is read in, from `since` (at most two years back;
    the last window when None) to now."""
    now = datetime.now(UTC)
    start = max(since, now - EXECUTION_HISTORY) if since else now - EXECUTION_WINDOW
    while start <= now:
        end = min(start + EXECUTION_WINDOW, now)
        yield start, end
        start = end + timedelta(milliseconds=1)


def _order_params(request: OrderRequest) -> Json:
    params: Json = {
        "category": request.kind.value,
        "symbol": request.symbol,
        "side": convert.SIDES[request.side],
        "orderType": convert.ORDER_TYPES[request.order_type],
        "qty": format(request.quantity, "f"),
        "orderLinkId": request.client_order_id,
    }
    if request.order_type is OrderType.LIMIT:
        assert request.price is not None  # OrderRequest guarantees it
        params["price"] = format(request.price, "f")
        params["timeInForce"] = convert.TIME_IN_FORCE[request.time_in_force]
    else:
        if request.kind is InstrumentKind.SPOT:
            # Without it Bybit reads a spot market buy's qty in the quote coin.
            params["marketUnit"] = "baseCoin"
        params["timeInForce"] = convert.TIME_IN_FORCE[TimeInForce.IOC]
    if request.kind is InstrumentKind.LINEAR:
        params["positionIdx"] = ONE_WAY_MODE
        params["reduceOnly"] = request.reduce_only
    return params
