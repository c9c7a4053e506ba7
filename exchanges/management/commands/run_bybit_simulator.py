from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchanges.simulator.database import DEFAULT_FILE_NAME, default_path, use_own_database
from exchanges.simulator.driver import FEEDS, FeedDriver, ensure_prices
from exchanges.simulator.server import DEFAULT_BALANCES, BybitSimulator

DEFAULT_ACCOUNT = "simulator-key:simulator-secret"


def _pair(text: str, separator: str, what: str) -> tuple[str, str]:
    left, found, right = text.partition(separator)
    if not found or not left or not right:
        raise CommandError(f"{what} must look like LEFT{separator}RIGHT, got {text!r}.")
    return left, right


def _balances(items: list[str]) -> dict[str, Decimal]:
    balances: dict[str, Decimal] = {}
    for item in items:
        asset, amount = _pair(item, "=", "--balance")
        try:
            balances[asset.upper()] = Decimal(amount)
        except InvalidOperation as exc:
            raise CommandError(f"--balance {item!r}: {amount!r} is not a number.") from exc
    return balances or dict(DEFAULT_BALANCES)


def _product_database() -> Path | None:
    product = settings.DATABASES["default"]
    if product["ENGINE"] != "django.db.backends.sqlite3":
        return None
    return Path(product["NAME"]).resolve()


class Command(BaseCommand):
    # The product's checks read the product's database (dj-stripe's, for one); the simulator
    # keeps to its own file and must leave the product's untouched.
    requires_system_checks: list[str] = []
    help = "Serve a Bybit v5 REST simulator backed by the paper exchange."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--account", action="append", default=[], metavar="KEY:SECRET")
        parser.add_argument("--balance", action="append", default=[], metavar="ASSET=AMOUNT")
        parser.add_argument("--feed", choices=FEEDS, default="replay")
        parser.add_argument("--speed", type=float, default=60.0, help="Feed time per wall-clock second.")
        parser.add_argument("--allow-faults", action="store_true", help="Enable POST /__simulator/faults.")
        parser.add_argument(
            "--database",
            type=Path,
            default=None,
            metavar="PATH",
            help=f"The simulator's own SQLite file (default: DATA_DIR/{DEFAULT_FILE_NAME}), "
            "created and migrated on start; never the product's database.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["speed"] <= 0:
            raise CommandError("--speed must be positive.")
        accounts = [_pair(item, ":", "--account") for item in options["account"] or [DEFAULT_ACCOUNT]]
        balances = _balances(options["balance"])
        database = (options["database"] or default_path()).resolve()
        if database == _product_database():
            raise CommandError(
                f"--database {database} is the product's own database; give the simulator its own."
            )
        use_own_database(database)
        ensure_prices(options["feed"])
        simulator = BybitSimulator(
            host=options["host"], port=options["port"], allow_faults=options["allow_faults"]
        )
        for key, secret in accounts:
            simulator.add_key(key, secret, balances=balances)
        driver = FeedDriver(options["feed"], options["speed"]) if options["feed"] != "none" else None
        with simulator:
            if driver:
                driver.start()
            self._announce(simulator, accounts, balances, options)
            try:
                while True:
                    time.sleep(3600)
            except KeyboardInterrupt:
                self.stdout.write("Stopping.")
            finally:
                if driver:
                    driver.stop()

    def _announce(
        self,
        simulator: BybitSimulator,
        accounts: list[tuple[str, str]],
        balances: dict[str, Decimal],
        options: Any,
    ) -> None:
        self.stdout.write(self.style.SUCCESS(f"Bybit v5 simulator listening on {simulator.url}"))
        self.stdout.write(
            f"Feed: {options['feed']} at x{options['speed']:g}; faults: {options['allow_faults']}"
        )
        self.stdout.write(f"Database: {settings.DATABASES['default']['NAME']}")
        funds = ", ".join(f"{amount} {asset}" for asset, amount in balances.items())
        for key, secret in accounts:
            # Printing the secret is the point: these are local paper accounts the user just named.
            self.stdout.write(f"Account {key} / {secret} (new accounts start with {funds})")
        self.stdout.flush()
