"""Deterministic client order ids (Bybit's orderLinkId: at most 36 characters).

The same intent always gets the same id, so an order committed as pending
and then lost in a crash is found again by id, never sent twice.
"""

from __future__ import annotations

import re

from exchanges.base import CLIENT_ORDER_ID_MAX, Side

# "-exit", "-exit2", "-exit3-a1": the part of a sale split into several market orders.
_EXIT_PART = re.compile(r"-exit(\d*)(?:-a\d+)?$")


def bot_prefix(bot_id: int, run: int) -> str:
    # The "r" after the id keeps bot 1's prefix from matching bot 11's orders.
    return f"gw{bot_id}r{run}-"


def grid_order_id(bot_id: int, run: int, interval: int, cycle: int, side: Side, attempt: int = 0) -> str:
    return _checked(f"{bot_prefix(bot_id, run)}{interval}-{cycle}{side.value[0]}{_retry(attempt)}")


def start_order_id(bot_id: int, run: int, attempt: int = 0) -> str:
    return _checked(f"{bot_prefix(bot_id, run)}start{_retry(attempt)}")


def exit_order_id(bot_id: int, run: int, attempt: int = 0, part: int = 1) -> str:
    """The sale of the base on exit, `part` of however many market orders it takes."""
    numbered = str(part) if part > 1 else ""
    return _checked(f"{bot_prefix(bot_id, run)}exit{numbered}{_retry(attempt)}")


def exit_part(client_order_id: str) -> int:
    """Which part of the exit sale `client_order_id` (from `exit_order_id`) names."""
    match = _EXIT_PART.search(client_order_id)
    return int(match.group(1)) if match and match.group(1) else 1


def _retry(attempt: int) -> str:
    return f"-a{attempt}" if attempt else ""


def _checked(client_order_id: str) -> str:
    if len(client_order_id) > CLIENT_ORDER_ID_MAX:
        raise ValueError(
            f"Client order id {client_order_id!r} is longer than {CLIENT_ORDER_ID_MAX} characters."
        )
    return client_order_id
