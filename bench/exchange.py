"""Orders per second placed and cancelled: through the Bybit adapter against the simulator,
and directly on the paper engine.

Run from the project root:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gridwise .venv/bin/python bench/exchange.py [--orders 300]

Database: the server and credentials come from DATABASE_URL, but the benchmark always
works in its own database, `gridwise_bench` on that server. It creates the database if
it is missing, brings its tables up to date with `migrate`, and leaves the rows it
wrote behind (each run uses fresh API keys and client order ids). It needs PostgreSQL;
Redis is not used.

The simulator runs in this process on a free port with its per-key rate limits raised
far above Bybit's (20 orders/s), since the limits, not the code, would be measured otherwise.
Limit orders rest far below the market, so nothing fills and every cancel finds its order.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from benchdb import bench_database_url

ROOT = Path(__file__).resolve().parents[1]
BENCH_DATABASE = "gridwise_bench"
PRICE = Decimal("30000")
BALANCES = {"USDT": Decimal("10000000"), "BTC": Decimal("100")}


def use_bench_database() -> None:
    """Point DATABASE_URL at gridwise_bench on the same server, creating it if needed."""
    os.environ["DATABASE_URL"] = bench_database_url(BENCH_DATABASE)


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    # A local measurement, not a deployment: skip the production-safety refusal.
    os.environ.setdefault("DEBUG", "true")
    use_bench_database()
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def rate(count: int, action: Callable[[int], object]) -> float:
    started = time.perf_counter()
    for n in range(count):
        action(n)
    return count / (time.perf_counter() - started)


def measure(name: str, exchange: object, count: int) -> tuple[str, float, float]:
    from exchanges.base import Exchange, OrderRequest, OrderType, Side

    assert isinstance(exchange, Exchange)
    run = uuid.uuid4().hex[:8]
    ids = [f"b-{run}-{n}" for n in range(count)]

    def place(n: int) -> object:
        price = PRICE / 2 + n  # far below the market: rests, never fills
        return exchange.place_order(
            OrderRequest("BTCUSDT", Side.BUY, OrderType.LIMIT, Decimal("0.001"), ids[n], price)
        )

    placed = rate(count, place)
    cancelled = rate(count, lambda n: exchange.cancel_order("BTCUSDT", client_order_id=ids[n]))
    return name, placed, cancelled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=300)
    count = parser.parse_args().orders
    setup_django()

    from exchanges.bybit.adapter import BybitExchange
    from exchanges.paper import market
    from exchanges.paper.exchange import PaperExchange
    from exchanges.paper.service import open_paper_account
    from exchanges.simulator.limits import DEFAULT_LIMITS
    from exchanges.simulator.server import running_simulator

    market.set_price("BTCUSDT", PRICE)
    key, secret = f"bench-{uuid.uuid4().hex[:12]}", uuid.uuid4().hex
    results = [measure("paper engine, direct", PaperExchange(open_paper_account("bench", BALANCES)), count)]
    with running_simulator(
        rate_limits=dict.fromkeys(DEFAULT_LIMITS, 1_000_000), public_rate_limit=1_000_000
    ) as sim:
        sim.add_key(key, secret, balances=BALANCES)
        adapter = BybitExchange(key, secret, environment="custom", base_url=sim.url)
        results.append(measure("Bybit adapter -> simulator (pybit, HTTP)", adapter, count))

    print(f"{count} limit orders each, placed then cancelled one at a time")  # noqa: T201
    for name, placed, cancelled in results:
        print(f"  {name:42} place {placed:8.1f}/s   cancel {cancelled:8.1f}/s")  # noqa: T201


if __name__ == "__main__":
    main()
