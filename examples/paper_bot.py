"""Run a grid bot on a paper account through the Gridwise API, end to end.

Creates a paper account, previews and creates a BTCUSDT grid, starts it, waits for its first
fills, stops it and prints its PnL. Needs a token with the trade scope:

    python manage.py create_api_token you@example.com --scopes read,trade --name example
    GRIDWISE_TOKEN=gw_... python examples/paper_bot.py --base-url http://127.0.0.1:8000

Every mutating call sends an Idempotency-Key, so re-running a step after a network error
never creates or starts anything twice.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from typing import Any

import httpx


class ApiError(RuntimeError):
    pass


class Gridwise:
    def __init__(self, base_url: str, token: str, timeout: float = 15.0) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/") + "/api/v1/",
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    def call(self, method: str, path: str, body: dict[str, Any] | None = None, **params: Any) -> Any:
        headers = {"Idempotency-Key": str(uuid.uuid4())} if method != "GET" else {}
        for _ in range(5):
            response = self.http.request(method, path, json=body, params=params or None, headers=headers)
            if response.status_code != 429:
                break
            time.sleep(float(response.headers.get("Retry-After", "1")))  # throttled: wait as told
        if response.status_code >= 400:
            error = response.json().get("error", {})
            raise ApiError(
                f"{method} {path}: {response.status_code} {error.get('code')}: {error.get('message')}"
            )
        return response.json() if response.content else None


def run(api: Gridwise, *, fills_wanted: int, wait: float, poll: float, sell_base: bool) -> dict[str, Any]:
    account = api.call(
        "POST", "exchange-accounts/", {"exchange": "paper", "label": f"Example {uuid.uuid4().hex[:6]}"}
    )
    print(f"Paper account {account['id']} ({account['label']}) opened.")
    config = {
        "account": account["id"],
        "symbol": "BTCUSDT",
        "lower_price": "45000",
        "upper_price": "65000",
        "grid_count": 10,
        "spacing": "arithmetic",
        "direction": "long",
        "investment": "1000",
    }
    preview = api.call("POST", "bots/preview/", config)
    print(
        f"Preview at {preview['reference_price']}: {preview['quantity_per_order']} BTC per order, "
        f"profit per grid {float(preview['profit_per_grid_min']):.2%} "
        f"to {float(preview['profit_per_grid_max']):.2%}."
    )
    for warning in preview["warnings"]:
        print(f"  warning: {warning}")
    bot = api.call("POST", "bots/", {**config, "name": "Example grid"})
    print(f"Bot {bot['id']} created; starting.")
    api.call("POST", f"bots/{bot['id']}/start/")
    fills = wait_for_fills(api, bot["id"], fills_wanted, wait, poll)
    for fill in fills:
        print(f"Fill: {fill['side']} {fill['quantity']} {fill['symbol']} at {fill['price']}")
    api.call("POST", f"bots/{bot['id']}/stop/", {"sell_base": sell_base})
    print(f"Bot {bot['id']} stopping.")
    pnl = api.call("GET", f"bots/{bot['id']}/pnl/")
    print(f"PnL: total {pnl['total_pnl']} (grid {pnl['grid_profit']}, unrealised {pnl['unrealized_pnl']})")
    return {"account": account, "bot": bot, "fills": fills, "pnl": pnl}


def wait_for_fills(api: Gridwise, bot_id: int, wanted: int, wait: float, poll: float) -> list[dict[str, Any]]:
    deadline = time.monotonic() + wait
    while True:
        fills = api.call("GET", f"bots/{bot_id}/fills/", limit=100)["results"]
        if len(fills) >= wanted:
            return list(fills)
        if time.monotonic() > deadline:
            raise ApiError(f"No {wanted} fill(s) within {wait:.0f} s; the bot keeps running.")
        time.sleep(poll)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default=os.environ.get("GRIDWISE_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--token", default=os.environ.get("GRIDWISE_TOKEN", ""), help="or GRIDWISE_TOKEN")
    parser.add_argument("--fills", type=int, default=1, help="fills to wait for before stopping")
    parser.add_argument("--wait", type=float, default=300.0, help="seconds to wait for them")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between polls")
    parser.add_argument("--sell-base", action="store_true", help="sell the bot's BTC when stopping")
    args = parser.parse_args(argv)
    if not args.token:
        parser.error("give a token with --token or GRIDWISE_TOKEN (manage.py create_api_token)")
    try:
        run(
            Gridwise(args.base_url, args.token),
            fills_wanted=args.fills,
            wait=args.wait,
            poll=args.poll,
            sell_base=args.sell_base,
        )
    except (ApiError, httpx.HTTPError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
