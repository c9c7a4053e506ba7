"""A running backtest's or optimisation's progress, pushed to its owner's open pages.

Events go through `bots.live`'s one publisher, after commit, to a group per trader that only
the backtest pages' sockets join (`bots.backtests.consumers`): the dashboard never hears them.
The event names the run; the socket renders the page's fragments from the row, so a page that
missed events shows the latest state on the next one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

from django.db import transaction

Kind = Literal["backtest", "optimisation"]

# A run tells its pages at most this often, or when it has moved on this many percent: a
# 50k-candles-a-second run would otherwise send a hundred events in two seconds.
PUBLISH_EVERY_SECONDS = 0.25
PUBLISH_EVERY_PERCENT = 5


def backtests_group(user_id: int) -> str:
    return f"user-{user_id}-backtests"


def publish_progress(owner_id: int, kind: Kind, run_id: int) -> None:
    # bots.live holds the process's one publisher (a lasting event loop and layer per process).
    from bots.live import _send

    message = {"type": "backtest.progress", "kind": kind, "run_id": run_id}
    transaction.on_commit(lambda: _send((backtests_group(owner_id),), message))


class Throttle:
    """Decides which progress steps are worth an event: the first, then one each
    PUBLISH_EVERY_SECONDS or PUBLISH_EVERY_PERCENT, whichever comes first."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._sent_at: float | None = None
        self._sent_percent = -PUBLISH_EVERY_PERCENT

    def due(self, percent: int) -> bool:
        now = self._clock()
        if (
            self._sent_at is not None
            and percent - self._sent_percent < PUBLISH_EVERY_PERCENT
            and now - self._sent_at < PUBLISH_EVERY_SECONDS
        ):
            return False
        self._sent_at, self._sent_percent = now, percent
        return True
