"""Deterministic client order ids (Bybit's orderLinkId: at most 36 characters).

The same intent always gets the same id, so an order committed as pending
and then lost in a crash is found again by id, never sent twice.
"""

from __future__ import annotations

from exchanges.base import CLIENT_ORDER_ID_MAX, Side


def bot_prefix(bot_id: int, run: int) -> str:
    # The "r" after the id keeps bot 1's prefix from matching bot 11's orders.
    return f"gw{bot_id}r{run}-"


def grid_order_id(bot_id: int, run: int, interval: int, cycle: int, side: Side, attempt: int = 0) -> str:
    return _checked(f"{bot_prefix(bot_id, run)}{interval}-{cycle}{side.value[0]}{_retry(attempt)}")


def start_order_id(bot_id: int, run: int, attempt: int = 0) -> str:
    return _checked(f"{bot_prefix(bot_id, run)}start{_retry(attempt)}")


def exit_order_id(bot_id: int, run: int, attempt: int = 0) -> str:
    return _checked(f"{bot_prefix(bot_id, run)}exit{_retry(attempt)}")


def _retry(attempt: int) -> str:
    return f"-a{attempt}" if attempt else ""


def _checked(client_order_id: str) -> str:
    if len(client_order_id) > CLIENT_ORDER_ID_MAX:
        raise ValueError(
            f"Client order id {client_order_id!r} is longer than {CLIENT_ORDER_ID_MAX} characters."
        )
    return client_order_id
