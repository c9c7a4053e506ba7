"""schemathesis' own command line against the live server: every phase (examples, coverage,
fuzzing, stateful) and every check, with a trade token and seeded objects. Zero failures."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from accounts import tokens
from accounts.tests.factories import make_user
from bots import actions
from bots.tests.conftest import paper_account_for
from bots.tests.factories import grid_config
from bots.tests.test_engine import started
from bots.webhooks import actions as webhook_actions
from exchanges.paper import market

CONFIG = Path(__file__).resolve().parent / "schemathesis.toml"
SCHEMATHESIS = str(Path(sys.executable).parent / "schemathesis")
# The seeded webhook endpoint: a local port nothing listens on, so a ping never leaves the machine.
CLOSED_LOCAL_URL = "http://127.0.0.1:9/gridwise"
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _no_dns_for_invented_hosts(monkeypatch: pytest.MonkeyPatch) -> None:
    """Webhook URLs the fuzzer invents would be looked up by the SSRF guard; on this closed
    machine they resolve to nothing, so answer that at once and ask no resolver."""
    real = socket.getaddrinfo

    def resolve(host: Any, port: Any, *args: Any, **kwargs: Any) -> Any:
        if host in LOOPBACK_NAMES or host is None:
            return real(host, port, *args, **kwargs)
        if host == "example.com":
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("93.184.216.34", port))]
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", resolve)


def seed() -> dict[str, str]:
    """A trader with a paper account, a running bot with fills, a draft bot and a webhook."""
    market.set_price("BTCUSDT", Decimal("54000"))
    owner = make_user(email="schemathesis@example.com")
    account = paper_account_for(owner)
    running = started(actions.do_create_bot(owner, account, "Running", grid_config(), Decimal("54000")))
    market.set_price("BTCUSDT", Decimal("52900"))
    actions.do_create_bot(owner, account, "Draft", grid_config(), Decimal("54000"))
    webhook_actions.do_create_endpoint(owner, url=CLOSED_LOCAL_URL, events=["order.filled"])
    issued = tokens.do_create_token(owner, "schemathesis", ["read", "trade"])
    return {"GRIDWISE_API_TOKEN": issued.plaintext, "GRIDWISE_BOT_ID": str(running.pk)}


@pytest.mark.timeout(240)
def test_schemathesis_finds_nothing(live_server: Any, settings: Any, tmp_path: Path) -> None:
    settings.API_THROTTLE_RATES = {"token": "100000/min", "user": "100000/min", "anon": "100000/min"}
    # This closed machine reaches no exchange: every key check answers its documented 429
    # instead of reaching out (the key checks have tests of their own, against the simulator).
    settings.ACCOUNT_RATE_LIMITS = {**settings.ACCOUNT_RATE_LIMITS, "exchange_key_check": "0/h/user"}
    env = {**os.environ, **seed(), "NO_COLOR": "1"}
    command = [
        SCHEMATHESIS, "--config-file", str(CONFIG), "run", f"{live_server.url}/api/schema/",
        "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
        "--report", "junit", "--report-dir", str(tmp_path),
    ]  # fmt: skip
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=200, check=False)
    assert result.returncode == 0, result.stdout[-20000:] + result.stderr[-3000:]
