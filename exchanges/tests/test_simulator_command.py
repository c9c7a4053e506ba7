"""`manage.py run_bybit_simulator` as a user starts it: a separate process on its own port."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from django.db import connection

from exchanges.bybit.adapter import BybitExchange

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]


def test_the_command_serves_its_accounts_to_the_adapter():
    name = connection.settings_dict["NAME"]
    database_url = os.environ["DATABASE_URL"].rsplit("/", 1)[0] + f"/{name}"
    command = [sys.executable, "manage.py", "run_bybit_simulator", "--port", "0", "--feed", "none"]
    command += ["--account", "cli-key:cli-secret", "--balance", "USDT=500", "--balance", "BTC=0.25"]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=os.environ | {"DATABASE_URL": database_url},
        stdout=subprocess.PIPE,
        text=True,
    )
    output = process.stdout
    assert output is not None
    try:
        banner = output.readline()
        assert "listening on http://127.0.0.1:" in banner
        url = banner.rsplit(" ", 1)[1].strip()
        assert "cli-key" in output.readline() + output.readline()

        exchange = BybitExchange("cli-key", "cli-secret", environment="custom", base_url=url)
        balances = exchange.balances()
        assert (balances["USDT"].free, balances["BTC"].free) == (Decimal(500), Decimal("0.25"))
        assert exchange.ticker("BTCUSDT").last > 0
    finally:
        process.terminate()
        process.wait(timeout=10)
