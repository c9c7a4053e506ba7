"""The event log says what the venue did and how long the bot waits, in words."""

from __future__ import annotations

from bots import engine
from bots.models import BotEvent, BotEventKind
from bots.tests.test_faults import simulator
from bots.tests.test_stop_now import running_bot
from exchanges.simulator.server import BybitSimulator

__all__ = ["simulator"]


def _warnings(bot_id: int) -> list[str]:
    return list(
        BotEvent.objects.filter(bot_id=bot_id, kind=BotEventKind.WARNING)
        .order_by("id")
        .values_list("message", flat=True)
    )


def test_a_refused_connection_and_its_retry_are_said_plainly(simulator: BybitSimulator) -> None:
    bot = running_bot(simulator)
    simulator.stop()

    engine.run_tick(bot.pk)

    assert _warnings(bot.pk)[-1] == "Could not connect to Bybit (connection refused). Retrying in 2 seconds."


def test_a_short_rate_limit_wait_is_never_zero_seconds(simulator: BybitSimulator) -> None:
    bot = running_bot(simulator)
    simulator.faults.configure(rate_limit_requests=50, rate_limit_reset_ms=20)

    engine.run_tick(bot.pk)

    assert _warnings(bot.pk)[-1] == "The exchange is rate limiting; waiting 1 second."
