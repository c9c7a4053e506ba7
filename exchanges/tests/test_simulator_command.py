"""`manage.py run_bybit_simulator` as a user starts it: a separate process on its own port."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import closing, contextmanager
from decimal import Decimal
from pathlib import Path

import pytest

from exchanges.bybit.adapter import BybitExchange

pytestmark = [pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# The embedded shape, as `scripts/run` leaves it: nothing configured but where files go.
BASE_ENV = {"PATH": "/usr/bin:/bin"}


@contextmanager
def simulator(data_dir: Path, *arguments: str) -> Iterator[tuple[str, list[str]]]:
    """The running command's URL and the lines it printed on start."""
    command = [sys.executable, "manage.py", "run_bybit_simulator", "--port", "0", "--feed", "none"]
    process = subprocess.Popen(
        [*command, *arguments],
        cwd=ROOT,
        env=BASE_ENV | {"DATA_DIR": str(data_dir)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        banner = process.stdout.readline()
        if "listening on" not in banner:
            process.kill()
            pytest.fail(f"The simulator did not start: {banner}{process.communicate(timeout=10)[1]}")
        lines = [process.stdout.readline() for _ in range(3)]
        yield banner.rsplit(" ", 1)[1].strip(), lines
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_the_command_serves_its_accounts_to_the_adapter(tmp_path: Path) -> None:
    arguments = ["--account", "cli-key:cli-secret", "--balance", "USDT=500", "--balance", "BTC=0.25"]
    with simulator(tmp_path, *arguments) as (url, lines):
        assert any("cli-key" in line for line in lines)
        exchange = BybitExchange("cli-key", "cli-secret", environment="custom", base_url=url)
        balances = exchange.balances()
        assert (balances["USDT"].free, balances["BTC"].free) == (Decimal(500), Decimal("0.25"))
        assert exchange.ticker("BTCUSDT").last > 0


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_a_fresh_checkout_runs_it_on_a_database_of_its_own(tmp_path: Path) -> None:
    """Beside `scripts/run`, both on one SQLite file, the product's writes waited on the simulator's."""
    product = tmp_path / "gridwise.sqlite3"
    with closing(sqlite3.connect(product)) as database, database:
        database.execute("CREATE TABLE kept (value TEXT)")
        database.execute("INSERT INTO kept VALUES ('the product data')")
    before = _digest(product)

    with simulator(tmp_path) as (url, lines):
        assert f"Database: {tmp_path / 'bybit-simulator.sqlite3'}" in "".join(lines)
        exchange = BybitExchange("simulator-key", "simulator-secret", environment="custom", base_url=url)
        assert exchange.balances()["USDT"].free == Decimal(10000)

    assert _digest(product) == before
    assert sorted(path.name for path in tmp_path.iterdir() if path.name.startswith("gridwise")) == [
        "gridwise.sqlite3"
    ]
    with closing(sqlite3.connect(tmp_path / "bybit-simulator.sqlite3")) as database:
        tables = {row[0] for row in database.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "django_migrations" in tables


def test_the_database_option_names_its_file_and_refuses_the_products(tmp_path: Path) -> None:
    chosen = tmp_path / "venues" / "sim.sqlite3"
    with simulator(tmp_path, "--database", str(chosen)) as (_url, lines):
        assert f"Database: {chosen}" in "".join(lines)
    assert chosen.exists()

    product = tmp_path / "gridwise.sqlite3"
    refused = subprocess.run(
        [sys.executable, "manage.py", "run_bybit_simulator", "--database", str(product)],
        cwd=ROOT,
        env=BASE_ENV | {"DATA_DIR": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert refused.returncode != 0
    assert "the product's own database" in refused.stderr
