"""What one quiet tick costs in one process: SQL statements and milliseconds per tick.

Run from the project root:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gridwise REDIS_URL=redis://127.0.0.1:6379/0 \\
        .venv/bin/python bench/quiet_tick.py [--bots 200] [--rounds 5] [--profile]

It uses its own database `gridwise_quiettick` on DATABASE_URL's server (created, migrated
and emptied each run) and the Redis databases 12 and 13 of REDIS_URL's server, like
bench/engine.py (flushed each run: do not run both at once). N paper grid bots are started
and brought to a steady state (grid laid out, first snapshot and sweep done); the price then
stays put, so every further tick is quiet: a running bot, no new fills, nothing pending, no
exit rule hit, no snapshot or sweep due. It times `engine.run_tick(bot, reschedule_in=...)`,
the dispatched tick's path without Celery, over `--rounds` passes across all bots, then counts
the statements of one more pass. `--profile` prints the top of a cProfile of the timed passes.

This is the guide for the tick's own cost; the worker processes, the broker and the
dispatcher come on top and are measured by bench/engine.py.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import sys
import time
from datetime import timedelta

from engine import ROOT, bench_environment, create_bots

QUIET_DATABASE = "gridwise_quiettick"


def setup(database: str) -> None:
    from benchdb import bench_database_url, fresh_django

    bench_environment()
    os.environ["DATABASE_URL"] = bench_database_url(database)
    os.environ["BOT_TICK_STREAM"] = ""
    fresh_django(ROOT)


def bring_to_steady_state(bot_ids: list[int]) -> None:
    """Start every bot, lay out its grid, and let its first snapshot and sweep happen."""
    from bots import engine
    from bots.models import Bot, BotStatus
    from trading.models import Order, OrderStatus

    for _ in range(4):
        for bot_id in bot_ids:
            engine.run_tick(bot_id)
    running = Bot.objects.filter(status=BotStatus.RUNNING).count()
    pending = Order.objects.filter(status=OrderStatus.PENDING).count()
    if running != len(bot_ids) or pending:
        sys.exit(f"Not steady: {running}/{len(bot_ids)} running, {pending} orders pending.")


def timed_passes(bot_ids: list[int], rounds: int, interval: timedelta) -> tuple[float, float]:
    """Wall-clock and this process's CPU seconds (the database's own work is not in the latter)."""
    from bots import engine

    started, cpu = time.perf_counter(), time.process_time()
    for _ in range(rounds):
        for bot_id in bot_ids:
            if not engine.run_tick(bot_id, reschedule_in=interval):
                sys.exit(f"Bot {bot_id}'s lease was taken: nothing else should tick here.")
    return time.perf_counter() - started, time.process_time() - cpu


def statements_per_tick(bot_ids: list[int], interval: timedelta) -> tuple[float, int, list[str]]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from bots import engine

    counts = []
    sample: list[str] = []
    for bot_id in bot_ids:
        with CaptureQueriesContext(connection) as queries:
            engine.run_tick(bot_id, reschedule_in=interval)
        counts.append(len(queries))
        if not sample:
            sample = [query["sql"] for query in queries.captured_queries]
    return sum(counts) / len(counts), max(counts), sample


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bots", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5, help="timed passes over all bots")
    parser.add_argument("--profile", action="store_true", help="print a cProfile of the timed passes")
    parser.add_argument("--show-sql", action="store_true", help="print one quiet tick's statements")
    args = parser.parse_args()

    setup(QUIET_DATABASE)
    from bots.models import Bot

    print(f"Creating and starting {args.bots} paper bots ...")  # noqa: T201
    create_bots(args.bots, 5, random.Random(1))  # noqa: S311 - grid shapes, not a secret
    bot_ids = list(Bot.objects.order_by("id").values_list("id", flat=True))
    bring_to_steady_state(bot_ids)
    interval = timedelta(seconds=5)
    timed_passes(bot_ids, 1, interval)  # warm caches and connections
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    seconds, cpu_seconds = timed_passes(bot_ids, args.rounds, interval)
    if profiler:
        profiler.disable()
    mean, worst, sample = statements_per_tick(bot_ids, interval)
    ticks = args.rounds * len(bot_ids)
    print(f"  quiet ticks timed       {ticks}")  # noqa: T201
    print(f"  ms per quiet tick       {seconds / ticks * 1000:.2f}")  # noqa: T201
    print(f"  CPU ms per quiet tick   {cpu_seconds / ticks * 1000:.2f} (this process)")  # noqa: T201
    print(f"  statements per tick     {mean:.2f} (max {worst})")  # noqa: T201
    if args.show_sql:
        for sql in sample:
            print(f"    {sql[:160]}")  # noqa: T201
    if profiler:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)


if __name__ == "__main__":
    main()
