"""A local HTTP server speaking enough of Bybit's v5 REST API for pybit to trade on paper.

Transport only: authentication, rate limits, faults and the JSON envelope live
here; every answer comes from the paper engine through `BybitApi`. The server
uses the Django ORM from its request threads, so tests that run it need
`django_db(transaction=True)` to let those threads see committed rows.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from django.db import connections

from exchanges.base import Exchange, ExchangeError
from exchanges.bybit import codes
from exchanges.market_data.files import REPLAY_VENUE
from exchanges.simulator import records
from exchanges.simulator.api import BybitApi, Params
from exchanges.simulator.auth import KeyConfig, Rejection, authenticate
from exchanges.simulator.faults import Faults
from exchanges.simulator.limits import RateLimiter, Verdict

logger = logging.getLogger(__name__)

CONTROL_PATH = "/__simulator/faults"
CREATE_PATH = "/v5/order/create"
DEFAULT_BALANCES: Mapping[str, Decimal] = {"USDT": Decimal("10000")}
MARKET_DATA_KEY = "__simulator_market_data__"
Handler = Callable[[BybitApi, Params, KeyConfig | None], records.Json]


@dataclass(frozen=True)
class Route:
    handler: Handler
    private: bool


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/v5/market/time"): Route(BybitApi.server_time, private=False),
    ("GET", "/v5/market/instruments-info"): Route(BybitApi.instruments_info, private=False),
    ("GET", "/v5/market/tickers"): Route(BybitApi.tickers, private=False),
    ("GET", "/v5/market/kline"): Route(BybitApi.kline, private=False),
    ("POST", CREATE_PATH): Route(BybitApi.create_order, private=True),
    ("POST", "/v5/order/cancel"): Route(BybitApi.cancel_order, private=True),
    ("POST", "/v5/order/cancel-all"): Route(BybitApi.cancel_all, private=True),
    ("GET", "/v5/order/realtime"): Route(BybitApi.realtime, private=True),
    ("GET", "/v5/order/history"): Route(BybitApi.history, private=True),
    ("GET", "/v5/execution/list"): Route(BybitApi.executions, private=True),
    ("GET", "/v5/account/wallet-balance"): Route(BybitApi.wallet_balance, private=True),
    ("GET", "/v5/account/fee-rate"): Route(BybitApi.fee_rate, private=True),
    ("GET", "/v5/user/query-api"): Route(BybitApi.query_api, private=True),
    ("GET", "/v5/market/funding/history"): Route(BybitApi.funding_history, private=False),
    ("GET", "/v5/market/risk-limit"): Route(BybitApi.risk_limit, private=False),
    ("GET", "/v5/position/list"): Route(BybitApi.position_list, private=True),
    ("POST", "/v5/position/set-leverage"): Route(BybitApi.set_leverage, private=True),
    ("POST", "/v5/position/switch-mode"): Route(BybitApi.switch_mode, private=True),
}


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)
    content_type: str = "application/json"
    lose: tuple[str, float] | None = None  # ("drop", _) or ("delay", seconds)


def _json_reply(payload: records.Json, verdict: Verdict | None, status: int = 200) -> Reply:
    body = json.dumps(payload, separators=(",", ":")).encode()
    return Reply(status, body, verdict.headers() if verdict else {})


def _error(code: int, message: str, verdict: Verdict | None) -> Reply:
    return _json_reply(records.envelope({}, code=code, message=message), verdict)


class BybitSimulator:
    """Accounts, faults and the HTTP server. Use as a context manager, or start()/stop()."""

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        allow_faults: bool = False,
        rate_limits: dict[str, int] | None = None,
        public_rate_limit: int | None = None,
        candle_venue: str = REPLAY_VENUE,
    ) -> None:
        """`candle_venue`: the candle store's venue whose series `/v5/market/kline` serves."""
        self.allow_faults = allow_faults
        self.faults = Faults()
        self.limiter = RateLimiter(
            rate_limits, **({"public_limit": public_rate_limit} if public_rate_limit else {})
        )
        self.keys: dict[str, KeyConfig] = {}
        self.api = BybitApi(self._engine_for, candle_venue=candle_venue)
        self._engine_lock = threading.Lock()
        self._httpd = _Server((host, port), _RequestHandler, self)
        self._thread: threading.Thread | None = None

    # Accounts --------------------------------------------------------------

    def add_key(
        self,
        api_key: str,
        api_secret: str,
        *,
        balances: Mapping[str, Decimal] | None = None,
        read_only: bool = False,
        can_withdraw: bool = False,
        can_trade_spot: bool = True,
        ips: tuple[str, ...] = ("*",),
    ) -> KeyConfig:
        """Accept a key pair, opening its paper account (idempotent on the key)."""
        from exchanges.paper.service import open_paper_account

        open_paper_account(f"Bybit simulator {api_key}", balances or DEFAULT_BALANCES, api_key=api_key)
        key = KeyConfig(api_key, api_secret, read_only, can_withdraw, can_trade_spot, tuple(ips))
        self.keys[api_key] = key
        return key

    def _engine_for(self, key: KeyConfig | None) -> Exchange:
        from exchanges.paper.exchange import PaperExchange
        from exchanges.paper.models import PaperAccount
        from exchanges.paper.service import open_paper_account

        if key is None:  # market data needs no account of the caller's
            return PaperExchange(
                open_paper_account("Bybit simulator market data", {}, api_key=MARKET_DATA_KEY)
            )
        return PaperExchange(PaperAccount.objects.get(api_key=key.api_key))

    # Lifecycle -------------------------------------------------------------

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        host = self._httpd.server_address[0]
        return f"http://{host!s}:{self.port}"

    def start(self) -> BybitSimulator:
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, args=(0.05,), name="bybit-simulator", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.close_open_connections()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join()

    def __enter__(self) -> BybitSimulator:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # One request -----------------------------------------------------------

    def respond(
        self, method: str, target: str, body: bytes, headers: Mapping[str, str], client_ip: str
    ) -> Reply:
        if self.faults.latency:
            time.sleep(self.faults.latency)
        split = urlsplit(target)
        if split.path == CONTROL_PATH and self.allow_faults and method == "POST":
            return self._control(body)
        route = ROUTES.get((method, split.path))
        if route is None:
            return Reply(
                404,
                json.dumps(
                    records.envelope({}, code=codes.ROUTE_NOT_FOUND, message="Route not found.")
                ).encode(),
            )
        status = self.faults.take_server_error()
        if status is not None:
            return Reply(status, b"<html><body>Service Unavailable</body></html>", content_type="text/html")
        payload = split.query if method == "GET" else body.decode("utf-8", "replace")
        reply = self._answer(route, method, split.path, payload, headers, client_ip)
        if split.path == CREATE_PATH and reply.status == 200 and b'"retCode":0,' in reply.body:
            reply.lose = self.faults.take_lost_response()
        return reply

    def _answer(
        self, route: Route, method: str, path: str, payload: str, headers: Mapping[str, str], client_ip: str
    ) -> Reply:
        verdict: Verdict | None = None
        try:
            key = self._authenticate(headers, payload, client_ip) if route.private else None
            verdict = self._rate_limit(key.api_key if key else client_ip, path)
            params = _params(method, payload)
            with self._engine_lock:
                result = route.handler(self.api, params, key)
        except Rejection as rejection:
            reply = _error(rejection.code, rejection.message, verdict or self.limiter.check(client_ip, path))
            reply.headers.update(rejection.headers)
            return reply
        except ExchangeError as exc:
            entry = codes.retcode_for(exc)
            return _error(entry.code, entry.message, verdict)
        except Exception:  # a bug here must still answer like Bybit, not hang the client
            logger.exception("Simulator failed on %s %s", method, path)
            message = codes.BY_CODE[codes.SERVER_ERROR].message
            return _error(codes.SERVER_ERROR, message, verdict or self.limiter.check(client_ip, path))
        return _json_reply(records.envelope(result), verdict)

    def _authenticate(self, headers: Mapping[str, str], payload: str, client_ip: str) -> KeyConfig:
        if self.faults.is_rejected(headers.get("X-BAPI-API-KEY", "")):
            raise Rejection.of(codes.INVALID_KEY)
        now = records.now_ms()
        return authenticate(headers, payload, self.keys, server_time_ms=now, client_ip=client_ip)

    def _rate_limit(self, who: str, path: str) -> Verdict:
        forced = self.faults.take_rate_limit()
        verdict = (
            RateLimiter.forced(self.limiter.limit_for(path), forced)
            if forced is not None
            else self.limiter.check(who, path)
        )
        if not verdict.allowed:
            raise Rejection(codes.TOO_MANY_VISITS, "Too many visits!", verdict.headers())
        return verdict

    def _control(self, body: bytes) -> Reply:
        try:
            changes = json.loads(body or b"{}")
            if changes.pop("reset", False):
                self.faults.reset()
            self.faults.configure(**changes)
        except (ValueError, TypeError, AttributeError) as exc:
            return _json_reply({"error": str(exc)}, None, status=400)
        return _json_reply(self.faults.snapshot(), None)


def _params(method: str, payload: str) -> Params:
    if method == "GET":
        return dict(parse_qsl(payload, keep_blank_values=True))
    try:
        params = json.loads(payload or "{}")
    except ValueError as exc:
        raise Rejection.of(codes.PARAMETER_ERROR, "Invalid JSON in the request body") from exc
    if not isinstance(params, dict):
        raise Rejection.of(codes.PARAMETER_ERROR, "The request body must be a JSON object")
    return params


class _Server(ThreadingHTTPServer):
    # Request threads are joined on close, so none outlives a test's database.
    daemon_threads = False
    block_on_close = True

    def __init__(
        self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], sim: BybitSimulator
    ) -> None:
        self.simulator = sim
        self._open: set[socket.socket] = set()
        self._open_lock = threading.Lock()
        super().__init__(address, handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._open_lock:
            self._open.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._open_lock:
            self._open.discard(request)
        super().shutdown_request(request)

    def close_open_connections(self) -> None:
        """End idle keep-alive connections so their threads can finish."""
        with self._open_lock:
            for request in list(self._open):
                _shut(request)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed by the peer
        sock.shutdown(socket.SHUT_RDWR)


class _RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as pybit's requests.Session expects
    # Headers and body go out as separate writes; with Nagle on, each reply waits for a delayed ACK.
    disable_nagle_algorithm = True
    server: _Server

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def _handle(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        headers = {name: self.headers.get(name, "") for name in _AUTH_HEADERS if name in self.headers}
        reply = self.server.simulator.respond(method, self.path, body, headers, self.client_address[0])
        if reply.lose is not None and reply.lose[0] == "drop":
            self.close_connection = True
            _shut(self.connection)
            return
        if reply.lose is not None:
            time.sleep(reply.lose[1])
        try:
            self._write(reply)
        except OSError:
            self.close_connection = True  # the client gave up waiting, as the fault intends

    def _write(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(reply.body)

    def finish(self) -> None:
        super().finish()
        connections.close_all()  # this thread's database connection ends with it

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s " + format, self.client_address[0], *args)


_AUTH_HEADERS = (
    "X-BAPI-API-KEY",
    "X-BAPI-SIGN",
    "X-BAPI-TIMESTAMP",
    "X-BAPI-RECV-WINDOW",
    "X-BAPI-SIGN-TYPE",
)


@contextlib.contextmanager
def running_simulator(**options: Any) -> Iterator[BybitSimulator]:
    """A started simulator on a free port, stopped on exit."""
    with BybitSimulator(**options) as simulator:
        yield simulator
