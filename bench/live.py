"""Live updates: what one engine event costs, from publish to the fragment on a bot page's socket.

Run from the project root:

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/gridwise REDIS_URL=redis://127.0.0.1:6379/0 \\
      .venv/bin/python bench/live.py [--events 200] [--burst 50]

It uses its own database, `gridwise_livebench`, on DATABASE_URL's server (created and migrated
if needed; it adds one user, paper account and running bot per run) and the channel layer on
REDIS_URL. It prints:
- publish: the after-commit send of one event to its two groups (`bots.live._send`);
- render: the bot page's fragments for one fill (`bots.views.detail.live_fragments`, trades tab);
- end to end: publish to the fragment arriving on a `ws/bots/<id>/` socket (the whole ASGI
  stack with session auth and Redis; a lone event is rendered at once, without the
  consumer's coalescing window);
- burst: N events published at once, how many messages the socket received and when the last came.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

from benchdb import bench_database_url

ROOT = Path(__file__).resolve().parents[1]


def setup_django() -> None:
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("DEBUG", "true")  # a local measurement, not a deployment
    if not os.environ.get("REDIS_URL"):
        sys.exit("Set REDIS_URL: the benchmark measures the Redis channel layer.")
    os.environ["DATABASE_URL"] = bench_database_url("gridwise_livebench")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)


def running_bot() -> Any:
    import uuid

    from accounts.tests.factories import make_user
    from bots import actions, engine
    from bots.tests.factories import grid_config
    from exchanges.models import Environment, ExchangeAccount, ExchangeName
    from exchanges.paper import market
    from exchanges.paper.service import open_paper_account

    market.set_price("BTCUSDT", Decimal("54000"))
    owner = make_user(email=f"live-{uuid.uuid4().hex[:8]}@bench.local")
    paper = open_paper_account(f"{owner.email} paper", {"USDT": Decimal("5000")})
    account = ExchangeAccount.objects.create(
        owner=owner,
        label="Paper",
        exchange=ExchangeName.PAPER,
        environment=Environment.PAPER,
        paper_account=paper,
    )
    bot = actions.do_create_bot(owner, account, "Bench grid", grid_config(), Decimal("54000"))
    actions.do_start_bot(bot)
    for _ in range(2):
        engine.run_tick(bot.pk)
    bot.refresh_from_db()
    return bot


def say(line: str) -> None:
    print(line)  # noqa: T201  (a benchmark reports on stdout)


def figures(name: str, seconds: list[float]) -> None:
    ms = sorted(s * 1000 for s in seconds)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    say(f"{name:<12} n={len(ms):<4} p50 {statistics.median(ms):7.2f} ms   p99 {p99:7.2f} ms")


def timed(action: Any, count: int) -> list[float]:
    took = []
    for _ in range(count):
        started = time.perf_counter()
        action()
        took.append(time.perf_counter() - started)
    return took


def session_cookie(user: Any) -> str:
    from django.conf import settings
    from django.test import Client

    client = Client()
    client.force_login(user)
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


async def end_to_end(bot: Any, cookie: str, events: int, burst: int) -> None:
    from asgiref.sync import sync_to_async
    from django.db import transaction

    from bots import consumers, live
    from bots.tests.sockets import WebsocketCommunicator
    from config.asgi import application

    socket = WebsocketCommunicator(
        application,
        f"/ws/bots/{bot.pk}/",
        headers=[(b"origin", b"http://127.0.0.1"), (b"host", b"127.0.0.1"), (b"cookie", cookie.encode())],
    )
    assert (await socket.connect())[0]
    await socket.receive_from(10)  # the catch-up
    await socket.send_to(text_data='{"tab": "trades"}')
    await socket.receive_from(10)

    def publish() -> None:
        with transaction.atomic():
            live.publish(bot, "fill", {})

    took = []
    for _ in range(events):
        await asyncio.sleep(consumers.COALESCE_SECONDS)  # a lone event, as a fill after a quiet spell
        started = time.perf_counter()
        await sync_to_async(publish)()
        await socket.receive_from(10)
        took.append(time.perf_counter() - started)
    figures("end to end", took)

    def publish_burst() -> None:
        for _ in range(burst):
            publish()

    started = time.perf_counter()
    await sync_to_async(publish_burst)()
    messages = [await socket.receive_from(10)]
    last = time.perf_counter()
    while not await socket.receive_nothing(0.5):
        messages.append(await socket.receive_from(10))
        last = time.perf_counter()
    after = (last - started) * 1000
    say(f"burst        {burst} events -> {len(messages)} message(s), last after {after:.0f} ms")
    await socket.disconnect()


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=200)
    parser.add_argument("--burst", type=int, default=50)
    args = parser.parse_args()
    setup_django()

    from bots import live
    from bots.views import detail

    bot = running_bot()
    message = {"type": "bot.event", "kind": "fill", "bot_id": bot.pk}
    groups = (live.user_group(bot.owner_id), live.bot_group(bot.pk))
    figures("publish", timed(lambda: live._send(groups, message), args.events))
    event = {"kind": "fill", "kinds": ["fill"], "tab": "trades"}
    html = detail.live_fragments(bot.owner, bot.pk, event)
    figures("render", timed(lambda: detail.live_fragments(bot.owner, bot.pk, event), args.events))
    say(f"{'':<12} {len(html):,} bytes per fill message")
    asyncio.run(end_to_end(bot, session_cookie(bot.owner), args.events, args.burst))


if __name__ == "__main__":
    main()
