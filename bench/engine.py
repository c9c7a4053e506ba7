"""Grid (or DCA: `--strategy dca`, or futures grid: `--strategy futures_grid`) bots ticking
through the real dispatcher, Celery workers, PostgreSQL and Redis.

Run from the project root:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gridwise REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/engine.py [--bots 1000] [--seconds 60] [--interval 5] \\
        [--workers 1] [--pool prefork] [--concurrency 4] [--prefetch 1]

What runs where:
- Database: the server from DATABASE_URL, always the benchmark's own database
  `gridwise_enginebench`, created if missing, migrated, and emptied at the start of each run.
- Redis: the server from REDIS_URL, databases 12 (broker, channel layer, tick stream) and
  13 (cache), both flushed at the start. Nothing else on that server is touched.
- Workers: `celery -A config worker` subprocesses with the benchmark's environment
  (a throwaway production-style configuration, DEBUG off), stopped on exit.
- Dispatcher: this process sends `dispatch_due_bots` to the broker once a second, as
  beat's `dispatch-bots` entry does (a loop here rather than a beat process, so nothing
  else in the beat schedule runs).
- Market: this process moves the paper BTCUSDT price by a random-walk step once a
  second through `market.set_price`, the real matching path, whose `fills_recorded`
  signal wakes the filled bots (bots/signals.py).

Each bot gets its own user and paper account and a grid of its own (range and level
count drawn at random around the price), so fills are spread over bots. The bots start
from `starting`, due at moments spread over one interval (as bots started by many traders
over time would be); the warm-up lasts until every bot runs its grid, then the window is
measured.

Figures:
- ticks/s: ticks that ran in the window (tick attempts that found the lease taken are
  counted apart as "busy").
- tick latency p50/p99: from the task's start to its end, in the worker (bots.metrics,
  recorded to a Redis stream because BOT_TICK_STREAM is set for the workers).
- dispatch lag p99: a dispatched tick's start minus the `next_tick_at` it was due at.
- fill -> counter-order p50/p95: from outside, on the exchange's own clock: the paper
  fill's time to the creation of the bot's counter-order on the paper exchange (the same
  grid interval, the other side, the first one after the fill).

`--slow-channel SECONDS` (a notifications mode): a local SMTP server (aiosmtpd) that takes
SECONDS to accept each message stands in for a slow channel, and the workers mail through
it. After the usual window (fills not notified: the default), every trader turns fill
notifications on, in the app and by email, and a second window of the same length is
measured; tick latency p50/p95 and dispatch lag are printed side by side, with how many
notifications the second window recorded and mailed. `--delivery-concurrency N` runs the
deliveries (the webhooks queue) on a worker of their own instead of the routine workers, with
N threads (`--delivery-pool threads`, the default) or N processes (`prefork`).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from benchdb import bench_database_url, celery_worker_command, fresh_django, throwaway_production_env

ROOT = Path(__file__).resolve().parents[1]
BENCH_DATABASE = "gridwise_enginebench"
BROKER_DB, CACHE_DB = 12, 13
TICK_STREAM = "gridwise:bench:ticks"
SYMBOL = "BTCUSDT"
START_PRICE = Decimal("30000")
ACCOUNT_USDT = Decimal("2000")
INVESTMENT = Decimal("1000")
GRACE_SECONDS = 5.0  # after the window, for counter-orders of its last fills to land


def bench_environment() -> dict[str, str]:
    """Point the database and Redis at the benchmark's own, with a throwaway production-style config."""
    database_url = bench_database_url(BENCH_DATABASE)
    redis = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    broker = urlunsplit(redis._replace(path=f"/{BROKER_DB}"))
    env = {
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": broker,
        "CELERY_BROKER_URL": broker,
        "CACHE_URL": urlunsplit(redis._replace(path=f"/{CACHE_DB}")),
        **throwaway_production_env(),
        "BOT_TICK_STREAM": TICK_STREAM,
    }
    os.environ.update(env)
    return env


def setup_django() -> None:
    fresh_django(ROOT)


# Fixtures ----------------------------------------------------------------------


def _grid_config(rng: random.Random) -> Any:
    """A grid of its own: range and level count drawn at random around the price."""
    from bots.strategies import grid

    return grid.GridConfig(
        symbol=SYMBOL,
        lower_price=(START_PRICE * Decimal(1 - rng.uniform(0.03, 0.10))).quantize(Decimal("0.1")),
        upper_price=(START_PRICE * Decimal(1 + rng.uniform(0.03, 0.10))).quantize(Decimal("0.1")),
        grid_count=rng.randint(5, 12),
        investment=INVESTMENT,
    )


def _dca_config(rng: random.Random) -> Any:
    """Deals tight enough for the random walk to fill safety orders and take profit in the window."""
    from bots.strategies import dca

    return dca.DcaConfig(
        symbol=SYMBOL,
        base_order_size=Decimal(rng.randint(50, 150)),
        safety_order_size=Decimal(rng.randint(30, 60)),
        price_deviation=Decimal(str(round(rng.uniform(0.05, 0.3), 2))),
        step_scale=Decimal("1.2"),
        volume_scale=Decimal("1.3"),
        max_safety_orders=rng.randint(3, 6),
        max_active_safety_orders=2,
        take_profit=Decimal(str(round(rng.uniform(0.1, 0.4), 2))),
    )


def _futures_config(rng: random.Random) -> Any:
    """A futures grid of its own: mode, leverage, range and level count drawn at random."""
    from bots.strategies import futures_grid

    return futures_grid.FuturesGridConfig(
        symbol=SYMBOL,
        lower_price=(START_PRICE * Decimal(1 - rng.uniform(0.03, 0.10))).quantize(Decimal("0.1")),
        upper_price=(START_PRICE * Decimal(1 + rng.uniform(0.03, 0.10))).quantize(Decimal("0.1")),
        grid_count=rng.randint(5, 12),
        investment=INVESTMENT,
        leverage=Decimal(rng.choice((2, 3, 5))),
        mode=rng.choice(list(futures_grid.Mode)),
    )


CONFIGS = {"grid": _grid_config, "dca": _dca_config, "futures_grid": _futures_config}


def create_bots(count: int, interval: int, rng: random.Random, strategy: str = "grid") -> None:
    from datetime import timedelta

    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from accounts.models import User
    from bots.futures_previews import listed_perpetual
    from bots.models import Bot, BotStatus
    from bots.strategies import registry
    from exchanges.models import Environment, ExchangeAccount, ExchangeName
    from exchanges.paper import market
    from exchanges.paper.instruments import instrument_for, linear_instrument_for
    from exchanges.paper.models import PaperAccount, PaperBalance

    market.set_price(SYMBOL, START_PRICE)
    # A futures grid validates against its perpetual (filters, risk tiers), a spot one its pair.
    instrument: Any = (
        listed_perpetual(SYMBOL, linear_instrument_for(SYMBOL))
        if strategy == "futures_grid"
        else instrument_for(SYMBOL)
    )
    password = make_password(None)
    users = User.objects.bulk_create(
        User(email=f"bench{n}@bench.local", password=password) for n in range(count)
    )
    papers = PaperAccount.objects.bulk_create(PaperAccount(label=f"bench {n}") for n in range(count))
    PaperBalance.objects.bulk_create(PaperBalance(account=p, asset="USDT", free=ACCOUNT_USDT) for p in papers)
    accounts = ExchangeAccount.objects.bulk_create(
        ExchangeAccount(
            owner=user,
            label="Paper",
            exchange=ExchangeName.PAPER,
            environment=Environment.PAPER,
            paper_account=paper,
        )
        for user, paper in zip(users, papers, strict=True)
    )
    now = timezone.now()
    bots = []
    runs = registry.strategy_named(strategy)
    for n, account in enumerate(accounts):
        config = CONFIGS[strategy](rng)
        runs.validate(config, instrument, START_PRICE, "Paper")
        bots.append(
            Bot(
                owner_id=account.owner_id,
                exchange_account=account,
                name=f"bench {n}",
                symbol=SYMBOL,
                strategy=strategy,
                config=runs.config_to_json(config),
                price_at_creation=START_PRICE,
                status=BotStatus.STARTING,
                run=1,
                tick_interval=interval,
                next_tick_at=now + timedelta(seconds=interval * (n % 100) / 100),
            )
        )
    Bot.objects.bulk_create(bots)


# Processes ---------------------------------------------------------------------


@dataclass
class WorkerConfig:
    processes: int
    pool: str
    concurrency: int
    prefetch: int = 1
    # A worker of its own for the priority queue (fill wake-ups, starts, stops, the dispatcher),
    # with this many processes; 0: every worker drains every queue.
    priority_concurrency: int = 0
    # Niceness of the routine workers when the priority queue has its own: under load the
    # kernel then gives a fill's wake-up the CPU before routine ticks.
    routine_nice: int = 0
    # A worker of its own for deliveries (the webhooks queue, which notifications share), with
    # this many processes; 0: the routine workers drain it, as the Procfile has it.
    delivery_concurrency: int = 0
    # The deliveries worker's pool: sends wait on the network, so threads, not processes.
    delivery_pool: str = "threads"


def start_workers(config: WorkerConfig, env: dict[str, str], log_dir: Path) -> list[subprocess.Popen[bytes]]:
    from django.conf import settings

    all_queues = settings.CELERY_WORKER_QUEUES
    if not config.priority_concurrency:
        return [
            _worker(n, all_queues, config.concurrency, config, env, log_dir) for n in range(config.processes)
        ]
    routine = ",".join(q for q in all_queues.split(",") if q != settings.CELERY_PRIORITY_QUEUE)
    workers = [_worker(0, settings.CELERY_PRIORITY_QUEUE, config.priority_concurrency, config, env, log_dir)]
    if config.delivery_concurrency:
        # Notification and webhook deliveries on a worker of their own, off the routine ticks' processes.
        deliveries = settings.CELERY_WEBHOOKS_QUEUE
        routine = ",".join(q for q in routine.split(",") if q != deliveries)
        pool = replace(config, pool=config.delivery_pool)
        workers.append(_worker(99, deliveries, config.delivery_concurrency, pool, env, log_dir))
    workers += [
        _worker(n + 1, routine, config.concurrency, config, env, log_dir, nice=config.routine_nice)
        for n in range(config.processes)
    ]
    return workers


def _worker(
    n: int,
    queues: str,
    concurrency: int,
    config: WorkerConfig,
    env: dict[str, str],
    log_dir: Path,
    nice: int = 0,
) -> subprocess.Popen[bytes]:
    log = (log_dir / f"worker{n}.log").open("wb")
    command = celery_worker_command(
        ROOT, queues, concurrency, f"bench{n}@%h", pool=config.pool, prefetch=config.prefetch, nice=nice
    )
    return subprocess.Popen(  # noqa: S603 - our own venv's celery, fixed arguments
        command, cwd=ROOT, env={**os.environ, **env}, stdout=log, stderr=subprocess.STDOUT
    )


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)  # warm shutdown: finish the ticks in hand
    for worker in workers:
        try:
            worker.wait(timeout=20)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


class Loop(threading.Thread):
    """Call `step` once a second until stopped."""

    def __init__(self, name: str, step: Any) -> None:
        super().__init__(name=name, daemon=True)
        self.step = step
        self.stopped = threading.Event()

    def run(self) -> None:
        from django.db import close_old_connections

        next_at = time.monotonic()
        while not self.stopped.is_set():
            try:
                self.step()
            except Exception as exc:  # noqa: BLE001 - keep going; a missed step shows in the figures
                print(f"{self.name}: {exc!r}", file=sys.stderr)  # noqa: T201
                close_old_connections()
            next_at += 1.0
            self.stopped.wait(max(0.0, next_at - time.monotonic()))

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=10)


def dispatcher() -> Loop:
    from bots.tasks import dispatch_due_bots

    return Loop("dispatcher", dispatch_due_bots.delay)


def price_walk(rng: random.Random, volatility: float) -> Loop:
    from exchanges.paper import market

    price = [float(START_PRICE)]

    def step() -> None:
        # A random walk pulled gently back to the start, so the price stays inside the grids.
        drift = (float(START_PRICE) - price[0]) * 0.01
        price[0] = price[0] * (1 + rng.gauss(0, volatility)) + drift
        market.set_price(SYMBOL, Decimal(f"{price[0]:.1f}"))

    return Loop("price-walk", step)


# Notifications through a slow channel (--slow-channel) -----------------------------


def slow_smtp_server(delay: float) -> tuple[Any, int]:
    """An SMTP server on a free local port that sleeps `delay` seconds before accepting each
    message: a mail provider having a bad day. Returns (controller, port)."""
    import asyncio
    import socket

    from aiosmtpd.controller import Controller

    class Slow:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            await asyncio.sleep(delay)
            return "250 OK"

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Slow(), hostname="127.0.0.1", port=port)
    controller.start()
    return controller, port


def notify_fills_by_email() -> int:
    """Every bench trader gets fills in the app and by email (to a verified address)."""
    from allauth.account.models import EmailAddress

    from accounts.models import User
    from notifications import preferences
    from notifications.events import Channel, Kind, Mode
    from notifications.models import Preference

    users = list(User.objects.filter(email__endswith="@bench.local").values_list("pk", "email"))
    EmailAddress.objects.bulk_create(
        [EmailAddress(user_id=pk, email=email, verified=True, primary=True) for pk, email in users],
        ignore_conflicts=True,
    )
    Preference.objects.bulk_create(
        [
            Preference(user_id=pk, kind=Kind.ORDER_FILLED, channel=channel, mode=Mode.ON)
            for pk, _ in users
            for channel in (Channel.IN_APP, Channel.EMAIL)
        ],
        ignore_conflicts=True,
    )
    for pk, _ in users:
        preferences.forget(pk)  # the workers read the matrix from the shared cache
    return len(users)


def notification_figures(window_start: float, window_end: float) -> dict[str, int]:
    from datetime import UTC, datetime

    from notifications.models import Delivery, Notification

    start, end = datetime.fromtimestamp(window_start, UTC), datetime.fromtimestamp(window_end, UTC)
    emails = Delivery.objects.filter(notification__created_at__range=(start, end), channel="email")
    return {
        "recorded": Notification.objects.filter(created_at__range=(start, end)).count(),
        "emails": emails.count(),
        "emails_sent": emails.filter(status="sent").count(),
    }


def report_side_by_side(
    quiet: dict[str, Any], noisy: dict[str, Any], mails: dict[str, int], delay: float
) -> None:
    ms = 1000.0
    rows = [("", "notifications off", f"fills notified, SMTP {delay:g} s/message")]
    for label, key, p in (
        ("tick latency p50", "latency", 50),
        ("tick latency p95", "latency", 95),
        ("dispatch lag p50", "lag", 50),
        ("dispatch lag p95", "lag", 95),
    ):
        rows.append(
            (label, f"{percentile(quiet[key], p) * ms:.1f} ms", f"{percentile(noisy[key], p) * ms:.1f} ms")
        )
    rows.append(("ticks in window", str(quiet["ticks"]), str(noisy["ticks"])))
    rows.append(("notifications recorded", "0", str(mails["recorded"])))
    rows.append(("emails queued / sent", "-", f"{mails['emails']} / {mails['emails_sent']}"))
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    print()  # noqa: T201
    for row in rows:
        print("  " + "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)))  # noqa: T201


# Measuring ---------------------------------------------------------------------


def wait_until_running(count: int, deadline: float) -> float:
    from bots.models import Bot, BotStatus
    from trading.models import Order, OrderStatus

    started = time.monotonic()
    while time.monotonic() < deadline:
        running = Bot.objects.filter(status=BotStatus.RUNNING).count()
        unsent = Order.objects.filter(status=OrderStatus.PENDING).count()
        print(f"  warm-up: {running}/{count} running, {unsent} orders pending", end="\r", flush=True)  # noqa: T201
        if running == count and unsent == 0:
            break
        time.sleep(2)
    print()  # noqa: T201
    return time.monotonic() - started


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def tick_figures(window_start: float, window_end: float) -> dict[str, Any]:
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    records: list[dict[str, Any]] = []
    last = "-"
    while True:
        batch = client.xrange(TICK_STREAM, min=last, count=10_000)
        if not batch:
            break
        records.extend(json.loads(fields[b"t"]) for _, fields in batch)  # type: ignore[index]
        last = "(" + batch[-1][0].decode()  # type: ignore[union-attr]
    ran = [r for r in records if r["ran"] and window_start <= r["finished"] <= window_end]
    busy = [r for r in records if not r["ran"] and window_start <= r["finished"] <= window_end]
    lags = [r["started"] - r["due"] for r in ran if r["due"] is not None]
    return {
        "ticks": len(ran),
        "busy": len(busy),
        "latency": [r["finished"] - r["started"] for r in ran],
        "lag": lags,
    }


def fill_figures(window_start: float, window_end: float, strategy: str = "grid") -> dict[str, Any]:
    """Each paper fill that completed a grid order in the window, to its counter-order's creation.
    A DCA bot's answer to a fill is the next order it places (a re-placed take-profit, a refilled
    safety order, the next deal's base order), whatever its slot."""
    from datetime import UTC, datetime

    from exchanges.paper.models import PaperFill, PaperOrder

    start = datetime.fromtimestamp(window_start, UTC)
    end = datetime.fromtimestamp(window_end, UTC)
    fills = (
        PaperFill.objects.filter(time__gte=start, time__lte=end, order__status="filled")
        .exclude(order__order_type="market")
        .values_list("account_id", "order__client_order_id", "time")
    )
    orders: dict[tuple[int, str, str], list[datetime]] = defaultdict(list)
    for account_id, client_id, created in PaperOrder.objects.filter(
        created_at__gte=start, order_type="limit"
    ).values_list("account_id", "client_order_id", "created_at"):
        interval, side = _grid_slot(client_id)
        orders[(account_id, interval, side)].append(created)
    delays, unmatched = [], 0
    any_slot: dict[int, list[datetime]] = defaultdict(list)
    for (account_id, _, _), times in orders.items():
        any_slot[account_id].extend(times)
    for account_id, client_id, filled_at in fills:
        interval, side = _grid_slot(client_id)
        other = "s" if side == "b" else "b"
        answers = any_slot[account_id] if strategy == "dca" else orders[(account_id, interval, other)]
        after = [t for t in answers if t >= filled_at]
        if after:
            delays.append((min(after) - filled_at).total_seconds())
        else:
            unmatched += 1
    return {"fills": len(delays) + unmatched, "delays": delays, "unmatched": unmatched}


def _grid_slot(client_id: str) -> tuple[str, str]:
    # gw{bot}r{run}-{interval}-{cycle}{b|s}[-a{attempt}]
    parts = client_id.split("-")
    return parts[1], parts[2][-1] if len(parts) > 2 and parts[2] else ""


def overdue_bots(seconds: float) -> int:
    from datetime import timedelta

    from django.utils import timezone

    from bots.models import ACTIVE_STATUSES, Bot

    late = timezone.now() - timedelta(seconds=seconds)
    return Bot.objects.filter(status__in=ACTIVE_STATUSES, next_tick_at__lt=late).count()


def report(
    args: argparse.Namespace, workers: WorkerConfig, ticks: dict[str, Any], fills: dict[str, Any]
) -> None:
    ms = 1000.0
    rows = [
        ("bots", f"{args.bots} ({args.strategy})"),
        ("tick interval", f"{args.interval} s"),
        (
            "workers",
            f"{workers.processes} x {workers.pool}, concurrency {workers.concurrency}, "
            f"prefetch x{workers.prefetch}"
            + (
                f"; priority queue: its own worker, concurrency {workers.priority_concurrency}"
                f", routine workers at nice {workers.routine_nice}"
                if workers.priority_concurrency
                else ""
            ),
        ),
        ("window", f"{args.seconds} s"),
        ("ticks/s", f"{ticks['ticks'] / args.seconds:.1f}  (needed {args.bots / args.interval:.0f})"),
        ("skipped (busy/superseded)", f"{ticks['busy']}"),
        ("tick latency p50", f"{percentile(ticks['latency'], 50) * ms:.1f} ms"),
        ("tick latency p99", f"{percentile(ticks['latency'], 99) * ms:.1f} ms"),
        ("dispatch lag p50", f"{percentile(ticks['lag'], 50) * ms:.0f} ms"),
        ("dispatch lag p99", f"{percentile(ticks['lag'], 99) * ms:.0f} ms"),
        ("fills (limit, in window)", f"{fills['fills']} ({fills['unmatched']} without a counter-order yet)"),
        ("fill -> counter-order p50", f"{percentile(fills['delays'], 50) * ms:.0f} ms"),
        ("fill -> counter-order p95", f"{percentile(fills['delays'], 95) * ms:.0f} ms"),
        ("bots overdue > 2 s at end", f"{ticks['overdue']}"),
    ]
    width = max(len(name) for name, _ in rows)
    print()  # noqa: T201
    for name, value in rows:
        print(f"  {name:<{width}}  {value}")  # noqa: T201


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=120, help="length of the measured window")
    parser.add_argument("--interval", type=int, default=5, help="each bot's tick_interval")
    parser.add_argument("--workers", type=int, default=1, help="celery worker processes")
    parser.add_argument("--pool", default="prefork", choices=("prefork", "threads", "solo"))
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--prefetch", type=int, default=1, help="worker --prefetch-multiplier")
    parser.add_argument(
        "--priority-concurrency",
        type=int,
        default=2,
        help="processes of a worker of its own for the priority queue (0: every worker drains every queue)",
    )
    parser.add_argument(
        "--routine-nice", type=int, default=10, help="niceness of the routine workers (as in the Procfile)"
    )
    parser.add_argument("--volatility", type=float, default=0.0005, help="random-walk step per second")
    parser.add_argument("--warmup-limit", type=int, default=300, help="give up warming up after this")
    parser.add_argument(
        "--settle",
        type=int,
        default=15,
        help="seconds between the warm-up and the window, for the start's backlog to drain",
    )
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--slow-channel",
        type=float,
        default=0.0,
        help="seconds a local SMTP server takes per message; then a second window with fills notified",
    )
    parser.add_argument(
        "--delivery-concurrency",
        type=int,
        default=0,
        help="concurrency of a worker of its own for deliveries (0: the routine workers drain them)",
    )
    parser.add_argument("--delivery-pool", default="threads", choices=("prefork", "threads"))
    parser.add_argument(
        "--strategy",
        default="grid",
        choices=tuple(CONFIGS),
        help="the bots' strategy; DCA deals are drawn tight so that the walk fills them; futures "
        "grids draw their mode and leverage",
    )
    args = parser.parse_args()
    workers_config = WorkerConfig(
        args.workers,
        args.pool,
        args.concurrency,
        args.prefetch,
        args.priority_concurrency,
        args.routine_nice,
        args.delivery_concurrency,
        args.delivery_pool,
    )
    rng = random.Random(args.seed)  # noqa: S311 - a price walk, not a secret

    env = bench_environment()
    smtp = None
    if args.slow_channel:
        smtp, port = slow_smtp_server(args.slow_channel)
        env["EMAIL_URL"] = os.environ["EMAIL_URL"] = f"smtp://127.0.0.1:{port}"
    setup_django()
    print(f"Creating {args.bots} bots ...")  # noqa: T201
    create_bots(args.bots, args.interval, rng, args.strategy)
    log_dir = Path(tempfile.gettempdir()) / "gridwise-enginebench"
    log_dir.mkdir(exist_ok=True)
    workers = start_workers(workers_config, env, log_dir)
    loops: list[Loop] = []
    try:
        loops = [dispatcher(), price_walk(rng, args.volatility)]
        for loop in loops:
            loop.start()
        warmup = wait_until_running(args.bots, time.monotonic() + args.warmup_limit)
        print(f"Warm-up {warmup:.0f} s; settling {args.settle} s; measuring {args.seconds} s ...")  # noqa: T201
        time.sleep(args.settle)
        window_start = time.time()
        time.sleep(args.seconds)
        window_end = time.time()
        overdue = overdue_bots(2.0)
        if smtp is not None:
            print(f"Fills notified for {notify_fills_by_email()} traders; measuring {args.seconds} s ...")  # noqa: T201
            noisy_start = time.time()
            time.sleep(args.seconds)
            noisy_end = time.time()
        loops[1].stop()  # the market stops; the last fills' counter-orders still land
        time.sleep(GRACE_SECONDS)
    finally:
        for loop in loops:
            with contextlib.suppress(Exception):
                loop.stop()
        stop_workers(workers)
    if smtp is not None:
        mails = notification_figures(noisy_start, noisy_end)
        smtp.stop()
        report_side_by_side(
            tick_figures(window_start, window_end),
            tick_figures(noisy_start, noisy_end),
            mails,
            args.slow_channel,
        )
    ticks = tick_figures(window_start, window_end)
    ticks["overdue"] = overdue
    report(args, workers_config, ticks, fill_figures(window_start, window_end, args.strategy))
    print(f"\n  worker logs: {log_dir}")  # noqa: T201


if __name__ == "__main__":
    main()
