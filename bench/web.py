"""The trader's pages under load, served as in production: uvicorn, DEBUG off, PostgreSQL, Redis.

Run from the project root:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gridwise REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/web.py [--bots 50] [--fills 100000] [--users 20] [--requests 20] \\
        [--moves 30] [--redis-dbs 10,11] [--web-workers 2] [--priority-concurrency 2]

What runs where:
- Database: the benchmark's own `gridwise_webbench` on DATABASE_URL's server, created if
  missing, migrated and emptied at the start of each run.
- Redis: two databases on REDIS_URL's server (`--redis-dbs`, default 10 and 11: channel layer
  and broker, then cache), flushed at the start. Nothing else on that server is touched.
- Web: `uvicorn config.asgi:application` subprocess(es) with a throwaway production
  configuration (DEBUG off, every safety variable set), stopped on exit.
- Data: one trader with `--bots` paper grid bots, started through the real engine (so each
  has books, open orders and a start fill), `--fills` fills spread over 30 days, and equity
  snapshots every minute for the last day and every ten minutes for the six before.

Figures:
- Pages: p50/p95 latency and requests/s of the dashboard, a bot's page (`/bots/<id>/`, or
  the trade history when that page is not in this branch), the trade history's first page,
  a page 1,000 pages deep (keyset cursor) and the full CSV export, fetched by `--users`
  concurrent httpx clients, each with its own signed-in session.
- Fill to screen: with the Celery workers running the bots (as the Procfile runs them),
  websocket clients on `ws/bots/<id>/` for every bot, each on the active orders tab as a page
  is; the price is moved so that orders fill, and the time from the paper exchange committing
  the fills to the first fragment of the fill on each filled bot's socket is recorded. The
  clock starts at the exchange's commit, before any of our code hears of the fills: the paper
  venue's own matching (about 3 ms of ORM work per fill, in this process) is the simulator's
  cost, which a real venue does not have. The time from the start of the price move is
  reported too, and fill to screen split at the bot's booking of the fill (its Fill row's
  insert): the worker's part (exchange commit to booking) and the page's (booking to screen:
  the commit, the publish, the render and the socket). Skipped, with a message, when this
  branch has no such websocket route.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchdb import bench_database_url, celery_worker_command, fresh_django, throwaway_production_env

ROOT = Path(__file__).resolve().parents[1]
BENCH_DATABASE = "gridwise_webbench"
SYMBOL = "BTCUSDT"
START_PRICE = Decimal("30000")
INVESTMENT = Decimal("1000")
# As the Procfile runs the web process: a connection pool per uvicorn worker (under ASGI each
# request runs on a thread of its own, so per-thread connections would leak). The worker and
# this process keep one connection each, as Celery workers do.
WEB_ONLY = {"DB_POOL": "on"}
PAGE_TARGET_MS = 100
FILL_TARGET_MS = 500
FEW_BOTS = 5  # fill-to-screen is also reported for moves filling at most this many bots
FILL_FRAGMENT = 'id="bot-header"'


def bench_environment(redis_dbs: tuple[int, int], database: str = BENCH_DATABASE) -> dict[str, str]:
    redis = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    layer = urlunsplit(redis._replace(path=f"/{redis_dbs[0]}"))
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": bench_database_url(database),
        "REDIS_URL": layer,
        "CELERY_BROKER_URL": layer,
        "CACHE_URL": urlunsplit(redis._replace(path=f"/{redis_dbs[1]}")),
        **throwaway_production_env(allowed_hosts="127.0.0.1,localhost"),
        "SECURE_COOKIES": "false",  # plain http on the loopback
    }
    os.environ.update(env)
    return env


def setup_django() -> None:
    fresh_django(ROOT, collect_static=True)


# Data --------------------------------------------------------------------------


def create_trader(bots: int, rng: random.Random) -> tuple[Any, list[Any]]:
    from accounts.models import User
    from billing import actions as billing_actions
    from billing import entitlements
    from billing.plans import PlanCode
    from bots import actions, engine
    from bots.strategies import grid
    from exchanges.models import Environment, ExchangeAccount, ExchangeName
    from exchanges.paper import market
    from exchanges.paper.service import open_paper_account

    market.set_price(SYMBOL, START_PRICE)
    user = User.objects.create_user(email="trader@bench.local", password=uuid.uuid4().hex)
    # Hundreds of bots for one trader: more than any plan but Enterprise runs.
    billing_actions.do_grant_plan(entitlements.subscription_for(user), PlanCode.ENTERPRISE)
    paper = open_paper_account("bench", {"USDT": INVESTMENT * bots * 2})
    account = ExchangeAccount.objects.create(
        owner=user,
        label="Paper",
        exchange=ExchangeName.PAPER,
        environment=Environment.PAPER,
        paper_account=paper,
    )
    created = []
    for n in range(bots):
        config = grid.GridConfig(
            symbol=SYMBOL,
            lower_price=(START_PRICE * Decimal(1 - rng.uniform(0.02, 0.08))).quantize(Decimal("0.1")),
            upper_price=(START_PRICE * Decimal(1 + rng.uniform(0.02, 0.08))).quantize(Decimal("0.1")),
            grid_count=rng.randint(8, 20),
            investment=INVESTMENT,
        )
        bot = actions.do_create_bot(user, account, f"Grid {n + 1}", config, START_PRICE)
        actions.do_start_bot(bot)
        engine.run_tick(bot.pk)  # sends the start trade
        engine.run_tick(bot.pk)  # books it and lays out the grid
        bot.refresh_from_db()
        created.append(bot)
        print(f"  bots: {n + 1}/{bots} ({bot.status})", end="\r", flush=True)  # noqa: T201
    print()  # noqa: T201
    return user, created


def create_fills(bots: list[Any], count: int, rng: random.Random) -> None:
    from django.utils import timezone

    from trading.models import Fill, Order

    now = timezone.now()
    per_bot = count // len(bots)
    for n, bot in enumerate(bots):
        order = Order.objects.create(
            bot=bot,
            client_order_id=f"bench-{bot.pk}",
            symbol=SYMBOL,
            side="buy",
            order_type="limit",
            price=START_PRICE,
            quantity=Decimal("1"),
            status="filled",
        )
        fills = []
        for i in range(per_bot + (1 if n < count % len(bots) else 0)):
            price = (START_PRICE * Decimal(1 + rng.uniform(-0.05, 0.05))).quantize(Decimal("0.01"))
            fills.append(
                Fill(
                    bot=bot,
                    order=order,
                    exchange_account_id=bot.exchange_account_id,
                    trade_id=f"bench-{bot.pk}-{i}",
                    symbol=SYMBOL,
                    side="buy" if i % 2 else "sell",
                    price=price,
                    quantity=Decimal("0.001234"),
                    fee=Decimal("0.000001234"),
                    fee_asset="BTC",
                    time=now - timedelta(seconds=rng.uniform(60, 30 * 86400)),
                )
            )
        Fill.objects.bulk_create(fills, batch_size=5000)
    print(f"  fills: {Fill.objects.count():,}")  # noqa: T201


def snapshot_times(now: datetime) -> Iterator[datetime]:
    for minutes in range(24 * 60):
        yield now - timedelta(minutes=minutes)
    for tens in range(6 * 24 * 6):
        yield now - timedelta(days=1, minutes=10 * (tens + 1))


def create_snapshots(bots: list[Any]) -> None:
    from django.utils import timezone

    from trading.models import EquitySnapshot

    now = timezone.now()
    times = list(snapshot_times(now))
    for bot in bots:
        EquitySnapshot.objects.bulk_create(
            (
                EquitySnapshot(
                    bot=bot,
                    time=at,
                    price=START_PRICE,
                    equity=INVESTMENT + Decimal(n % 97) / 10,
                    grid_profit=Decimal(n % 13) / 10,
                    unrealized_pnl=Decimal(0),
                )
                for n, at in enumerate(times)
            ),
            batch_size=5000,
        )
    print(f"  equity snapshots: {EquitySnapshot.objects.count():,}")  # noqa: T201


def analyze() -> None:
    """Statistics and visibility maps as autovacuum leaves them after such inserts."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def signed_in_sessions(user: Any, count: int) -> list[str]:
    """Session keys as a login leaves them, without going through the login form."""
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.db import connection

    keys = []
    for _ in range(count):
        session = SessionStore()
        session[SESSION_KEY] = str(user.pk)
        session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
        session[HASH_SESSION_KEY] = user.get_session_auth_hash()
        session.create()
        assert session.session_key is not None
        keys.append(session.session_key)
    connection.close()
    return keys


# Processes ---------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_web(env: dict[str, str], port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        str(ROOT / ".venv" / "bin" / "uvicorn"),
        "config.asgi:application",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return subprocess.Popen(  # noqa: S603 - our own venv's uvicorn, fixed arguments
        command,
        cwd=ROOT,
        env={**os.environ, **env, **WEB_ONLY},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # a group of its own, so `stop` can end its workers too
    )


def start_workers(env: dict[str, str], log_dir: Path, priority: int) -> list[subprocess.Popen[bytes]]:
    """The two workers as the Procfile runs them: the priority queue on processes of its own,
    routine ticks niced."""
    return [
        _worker(env, log_dir / "worker-priority.log", "priority", priority),
        _worker(env, log_dir / "worker-routine.log", "celery", 4, nice=10),
    ]


def _worker(
    env: dict[str, str], log: Path, queues: str, concurrency: int, nice: int = 0
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603 - our own venv's celery, fixed arguments
        celery_worker_command(ROOT, queues, concurrency, f"{queues}@%h", nice=nice),
        cwd=ROOT,
        env={**os.environ, **env},
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    # uvicorn's and Celery's worker processes outlived their parent's kill (holding pooled
    # connections) in earlier runs: end whatever is left of the group.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def wait_for_web(base: str, process: subprocess.Popen[bytes], seconds: float = 60) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"uvicorn exited with {process.returncode}; see its log.")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        time.sleep(0.5)
    sys.exit("uvicorn did not answer /healthz in time.")


# Measuring ---------------------------------------------------------------------


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def measure_page(
    base: str, path: str, sessions: list[str], requests_each: int, think: float
) -> dict[str, Any]:
    """Every session fetches `path` `requests_each` times, all sessions at once, pausing about
    `think` seconds between requests as a trader reading the page would (0: back to back)."""
    import httpx

    latencies: list[float] = []
    failures: dict[int, int] = {}
    pauses = random.Random(len(sessions))  # noqa: S311 - jitter, not a secret

    async def user(session_key: str) -> None:
        async with httpx.AsyncClient(base_url=base, cookies={"sessionid": session_key}, timeout=60) as client:
            await client.get(path)  # warm: connection, session, template caches
            await asyncio.sleep(pauses.uniform(0, think))  # users do not all click at once
            for _ in range(requests_each):
                started = time.perf_counter()
                response = await client.get(path)
                await response.aread()
                latencies.append(time.perf_counter() - started)
                if response.status_code != 200:
                    failures[response.status_code] = failures.get(response.status_code, 0) + 1
                await asyncio.sleep(think * pauses.uniform(0.5, 1.5))

    started = time.perf_counter()
    await asyncio.gather(*(user(key) for key in sessions))
    elapsed = time.perf_counter() - started
    return {"latency": latencies, "failures": failures, "rps": len(latencies) / elapsed}


async def fetch_status(base: str, path: str, session_key: str) -> int:
    import httpx

    async with httpx.AsyncClient(base_url=base, cookies={"sessionid": session_key}, timeout=60) as client:
        return (await client.get(path)).status_code


async def measure_export(base: str, session_key: str) -> tuple[float, float, int]:
    """Seconds to the first byte and to the last, and the number of lines."""
    import httpx

    async with httpx.AsyncClient(base_url=base, cookies={"sessionid": session_key}, timeout=300) as client:
        started = time.perf_counter()
        first = None
        lines = 0
        async with client.stream("GET", "/trades/export.csv") as response:
            async for chunk in response.aiter_bytes():
                first = first or time.perf_counter() - started
                lines += chunk.count(b"\n")
        return first or 0.0, time.perf_counter() - started, lines


def deep_cursor(user: Any, pages: int) -> str:
    """The cursor `pages` pages into the trader's history, as the pager would hand it out."""
    from trading.history import PAGE_SIZE, Cursor
    from trading.models import Fill

    row = Fill.objects.filter(bot__owner=user).order_by("-time", "-id")[pages * PAGE_SIZE - 1]
    return Cursor.of(row).encode()


def report(name: str, figures: dict[str, Any]) -> None:
    latencies = figures["latency"]
    p50, p95 = percentile(latencies, 50) * 1000, percentile(latencies, 95) * 1000
    verdict = "meets" if p95 < PAGE_TARGET_MS else "MISSES"
    failures = f", non-200: {figures['failures']}" if figures["failures"] else ""
    print(  # noqa: T201
        f"{name:<44} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  {figures['rps']:6.1f} req/s  "
        f"({len(latencies)} requests; {verdict} p95 < {PAGE_TARGET_MS} ms){failures}"
    )


# Fill to screen ------------------------------------------------------------------


def has_bot_websocket() -> bool:
    from config.routing import websocket_urlpatterns

    for pattern in websocket_urlpatterns:
        with contextlib.suppress(Exception):
            if pattern.resolve("ws/bots/1/"):
                return True
    return False


async def fill_to_screen(
    base: str, session_key: str, bots: list[Any], moves: int, rng: random.Random
) -> list[Arrival]:
    """One Arrival per filled bot that heard of its fill within 5 s."""
    import websockets
    from asgiref.sync import sync_to_async

    from bots.views.detail import DEFAULT_TAB

    ws_base = base.replace("http://", "ws://")
    headers = {"Cookie": f"sessionid={session_key}", "Origin": base}
    sockets = {}
    for bot in bots:
        sockets[bot.pk] = await websockets.connect(f"{ws_base}/ws/bots/{bot.pk}/", additional_headers=headers)
        # As the page's script does on connect (static/js/live.js): its updates then refresh
        # the tab on screen too, the active orders unless the trader picked another.
        await sockets[bot.pk].send(json.dumps({"tab": DEFAULT_TAB}))
    await asyncio.sleep(1)
    await _drain(sockets.values())  # whatever a consumer sends on connect is not a fill

    latencies: list[Arrival] = []
    move = sync_to_async(_move_and_find_filled_bots, thread_sensitive=True)
    price = START_PRICE
    for n in range(moves):
        # Down, then back up past where it was, so buys and then sells fill.
        step = Decimal(1 + rng.uniform(0.004, 0.012) * (-1 if n % 2 == 0 else 1))
        price = (price * step).quantize(Decimal("0.1"))
        moved_at, committed_at, trade_ids = await move(price)
        filled = [pk for pk in trade_ids if pk in sockets]
        arrivals = await asyncio.gather(*(_first_fill_at(sockets[pk], 5.0) for pk in filled))
        booked = await sync_to_async(_booked_at, thread_sensitive=True)(trade_ids)
        latencies += [
            Arrival(
                len(filled),
                arrived - committed_at,
                arrived - moved_at,
                booked.get(pk, arrived) - committed_at,
            )
            for pk, arrived in zip(filled, arrivals, strict=True)
            if arrived is not None
        ]
        missed = sum(1 for arrived in arrivals if arrived is None)
        print(  # noqa: T201
            f"  move {n + 1}/{moves}: price {price}, {len(filled)} bots filled, "
            f"{missed} without a message in 5 s",
            flush=True,
        )
        # Counter-orders go out after a move's bookings: their messages belong to this move.
        await _drain(sockets.values())
        await asyncio.sleep(0.5)
    for ws in sockets.values():
        await ws.close()
    return latencies


@dataclass(frozen=True)
class Arrival:
    """One filled bot's first message: how many bots the move filled, and seconds from the
    exchange's commit of the fills and from the start of the price move; `booked`: seconds
    from the exchange's commit to the bot's booking of its first fill of the move (the Fill
    row's insert), which splits fill to screen into the worker's part and the page's."""

    bots_filled: int
    since_commit: float
    since_move: float
    booked: float


_committed_at: list[float] = []


def stamp_exchange_commits() -> None:
    """Note when the paper exchange commits a move's fills, ahead of the engine's wake-up
    receiver, so the clock starts before any of our code runs."""
    from bots.signals import wake_bots_on_fill
    from exchanges.paper.market import fills_recorded

    def stamp(**kwargs: Any) -> None:
        _committed_at.append(time.time())

    fills_recorded.disconnect(wake_bots_on_fill)
    fills_recorded.connect(stamp, weak=False)
    fills_recorded.connect(wake_bots_on_fill)


def _move_and_find_filled_bots(price: Decimal) -> tuple[float, float, dict[int, list[str]]]:
    """When the move started and when the exchange committed it, and each filled bot's trade ids."""
    from exchanges.paper import market
    from trading.models import Order

    _committed_at.clear()
    moved_at = time.time()
    fills = market.set_price(SYMBOL, price)
    by_order = {fill.exchange_order_id: fill.trade_id for fill in fills}
    trade_ids: dict[int, list[str]] = {}
    for bot_id, exchange_id in Order.objects.filter(exchange_order_id__in=by_order).values_list(
        "bot_id", "exchange_order_id"
    ):
        trade_ids.setdefault(bot_id, []).append(by_order[exchange_id])
    return moved_at, _committed_at[0] if _committed_at else moved_at, trade_ids


def _booked_at(trade_ids: dict[int, list[str]]) -> dict[int, float]:
    """When each bot booked its first fill of the move (epoch seconds)."""
    from django.db.models import Min

    from trading.models import Fill

    every = [trade_id for ids in trade_ids.values() for trade_id in ids]
    rows = Fill.objects.filter(trade_id__in=every).values("bot_id").annotate(first=Min("recorded_at"))
    return {row["bot_id"]: row["first"].timestamp() for row in rows}


async def _first_fill_at(ws: Any, timeout: float) -> float | None:
    """When the first fragment rendered for a fill arrived: the page's header, which a fill
    re-renders and a counter-order alone does not."""
    deadline = time.monotonic() + timeout
    try:
        while FILL_FRAGMENT not in await asyncio.wait_for(ws.recv(), deadline - time.monotonic()):
            pass
    except TimeoutError:
        return None
    return time.time()


async def _drain(sockets: Iterable[Any], quiet: float = 0.3) -> None:
    """Read every socket until none has said anything for `quiet` seconds."""

    async def drain(ws: Any) -> None:
        with contextlib.suppress(TimeoutError):
            while True:
                await asyncio.wait_for(ws.recv(), quiet)

    await asyncio.gather(*(drain(ws) for ws in sockets))


def report_fills(name: str, latencies: list[float]) -> None:
    if not latencies:
        print(f"{name:<44} no fills")  # noqa: T201
        return
    p50, p95 = percentile(latencies, 50) * 1000, percentile(latencies, 95) * 1000
    verdict = "meets" if p95 < FILL_TARGET_MS else "MISSES"
    print(  # noqa: T201
        f"{name:<44} p50 {p50:7.1f} ms  p95 {p95:7.1f} ms  "
        f"({len(latencies)} fills; {verdict} p95 < {FILL_TARGET_MS} ms)"
    )


# Main ----------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--bots", type=int, default=50)
    parser.add_argument("--fills", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=20, help="concurrent signed-in clients")
    parser.add_argument("--requests", type=int, default=20, help="requests per client per page")
    parser.add_argument(
        "--think", type=float, default=1.0, help="seconds each client pauses between requests (0: none)"
    )
    parser.add_argument("--moves", type=int, default=30, help="price moves for fill-to-screen")
    parser.add_argument("--redis-dbs", default="10,11", help="channel layer/broker and cache databases")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument(
        "--priority-concurrency",
        type=int,
        default=2,
        help="priority worker processes (PRIORITY_WORKER_CONCURRENCY), sharing each move's wake-ups",
    )
    parser.add_argument("--database", default=BENCH_DATABASE, help="the benchmark's own database, emptied")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--skip-pages", action="store_true", help="measure fill to screen only")
    args = parser.parse_args()
    rng = random.Random(args.seed)  # noqa: S311 - reproducible test data, not secrets
    layer_db, cache_db = (int(n) for n in args.redis_dbs.split(","))

    os.environ["PRIORITY_WORKER_CONCURRENCY"] = str(args.priority_concurrency)  # as the Procfile's env
    env = bench_environment((layer_db, cache_db), args.database)
    setup_django()
    print(f"Setting up {args.bots} running bots and {args.fills:,} fills in {args.database}…")  # noqa: T201
    user, bots = create_trader(args.bots, rng)
    create_fills(bots, args.fills, rng)
    create_snapshots(bots)
    analyze()
    sessions = signed_in_sessions(user, args.users)
    cursor = deep_cursor(user, min(1000, args.fills // 50 - 1))

    log_dir = Path(tempfile.mkdtemp(prefix="gridwise-webbench-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    web = start_web(env, port, args.web_workers, log_dir / "uvicorn.log")
    workers: list[subprocess.Popen[bytes]] = []
    try:
        wait_for_web(base, web)
        load = os.getloadavg()
        print(  # noqa: T201
            f"\nuvicorn x{args.web_workers} at {base}; "
            f"{args.users} concurrent clients x {args.requests} requests, ~{args.think} s apart; "
            f"load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f} on {os.cpu_count()} cores"
        )
        detail = f"/bots/{bots[0].pk}/"
        detail_status = asyncio.run(fetch_status(base, detail, sessions[0]))
        pages = [("dashboard /", "/")]
        if detail_status == 200:
            pages.append((f"bot page {detail}", detail))
        else:
            print(f"  {detail} answers {detail_status} in this branch: the trade history stands in.")  # noqa: T201
        pages += [
            ("trade history /trades/", "/trades/"),
            ("trade history, page 1,000", f"/trades/?after={cursor}"),
        ]
        for name, path in pages if not args.skip_pages else []:
            one = asyncio.run(measure_page(base, path, sessions[:1], args.requests, 0))
            report(f"{name}, 1 client", one)
            loaded = asyncio.run(measure_page(base, path, sessions, args.requests, args.think))
            report(f"{name}, {args.users} clients", loaded)
            if args.think:
                saturated = asyncio.run(measure_page(base, path, sessions, args.requests // 2 or 1, 0))
                report(f"{name}, {args.users} back to back", saturated)
        if not args.skip_pages:
            first_byte, total, lines = asyncio.run(measure_export(base, sessions[0]))
            print(  # noqa: T201
                f"{'CSV export (all fills)':<44} first byte {first_byte * 1000:.0f} ms, "
                f"complete {total:.2f} s, {lines - 1:,} rows"
            )

        if not has_bot_websocket():
            print(  # noqa: T201
                "\nFill to screen: SKIPPED. This branch has no websocket route for ws/bots/<id>/ "
                "(config/routing.py); it runs once the bot consumer is merged."
            )
            return
        workers = start_workers(env, log_dir, args.priority_concurrency)
        time.sleep(5)
        stamp_exchange_commits()
        filled = asyncio.run(fill_to_screen(base, sessions[0], bots, args.moves, rng))
        report_fills("fill to screen (websocket)", [a.since_commit for a in filled])
        # A move filling many bots at once queues their ticks on the worker processes.
        few = [a.since_commit for a in filled if a.bots_filled <= FEW_BOTS]
        report_fills(f"  moves filling <= {FEW_BOTS} bots", few)
        report_fills(
            f"  moves filling > {FEW_BOTS} bots", [a.since_commit for a in filled if a.bots_filled > FEW_BOTS]
        )
        report_fills("  from the start of the move (with matching)", [a.since_move for a in filled])
        report_fills("  of which booked (exchange commit to Fill row)", [a.booked for a in filled])
        report_fills("  of which shown (Fill row to screen)", [a.since_commit - a.booked for a in filled])
    finally:
        for worker in workers:
            stop(worker)
        stop(web)
        print(f"\nLogs in {log_dir}")  # noqa: T201


if __name__ == "__main__":
    main()
