"""examples/paper_bot.py against a live server on the test database: the engine is ticked and
the paper market moved by the test while the script waits for its fills."""

from __future__ import annotations

import importlib.util
import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from accounts import tokens
from accounts.tests.factories import make_user
from bots import engine
from bots.models import ACTIVE_STATUSES, Bot, BotStatus
from exchanges.paper import market
from trading.models import Fill

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "paper_bot.py"


def _load_script() -> Any:
    spec = importlib.util.spec_from_file_location("paper_bot_example", SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_the_example_runs_a_bot_to_a_fill_and_stops_it(live_server, capsys) -> None:
    market.set_price("BTCUSDT", Decimal("54000"))
    owner = make_user(email="script@example.com")
    token = tokens.do_create_token(owner, "example", ["read", "trade"]).plaintext
    script = _load_script()
    result: dict[str, int] = {}
    argv = ["--base-url", live_server.url, "--token", token, "--fills", "2", "--wait", "60", "--poll", "0.2"]
    thread = threading.Thread(target=lambda: result.setdefault("code", script.main(argv)))
    thread.start()
    prices = [Decimal("54000"), Decimal("52000"), Decimal("54500")]  # buys at 53,000 fill, then sells
    step = 0
    while thread.is_alive():
        for bot_id in Bot.objects.filter(status__in=ACTIVE_STATUSES).values_list("pk", flat=True):
            engine.run_tick(bot_id)
        if Bot.objects.filter(status=BotStatus.RUNNING).exists():
            market.set_price("BTCUSDT", prices[step % len(prices)])
            step += 1
        time.sleep(0.2)
    thread.join()

    out = capsys.readouterr().out
    assert result["code"] == 0, out
    bot = Bot.objects.get(owner=owner)
    assert bot.status in (BotStatus.STOPPING, BotStatus.STOPPED)
    assert Fill.objects.filter(bot=bot).count() >= 2
    assert f"Bot {bot.pk} stopping." in out
    assert "Fill: buy" in out
    assert "PnL: total" in out
