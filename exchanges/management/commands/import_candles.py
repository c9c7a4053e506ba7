"""`manage.py import_candles`: fill the candle store from Bybit's klines or from candle files."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from exchanges.base import ExchangeError, InvalidOrder
from exchanges.market_data import files, intervals
from exchanges.market_data.importer import (
    ImportReport,
    NothingToResume,
    import_from_exchange,
    import_from_file,
)
from exchanges.market_data.progress import TextProgress
from exchanges.market_data.store import MisalignedCandle, Series

EXCHANGE_VENUE = "bybit"
GAPS_LISTED = 20
TIME_FORMAT = "%Y-%m-%d %H:%M"


class Command(BaseCommand):
    help = (
        "Import candles into the candle store: from Bybit's klines (--symbol, --interval, --start), "
        "from a candle file (--file), or every series shipped in the data directory (--shipped). "
        "A re-run continues after the last stored candle; gaps are reported, never filled."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        source = parser.add_mutually_exclusive_group()
        source.add_argument("--file", type=Path, help="a gzipped candle CSV (see exchanges/data/README.md)")
        source.add_argument("--shipped", action="store_true", help="every series in PRICE_DATA_DIR")
        parser.add_argument("--symbol", help="e.g. BTCUSDT (a file's name gives it when omitted)")
        parser.add_argument("--interval", help=f"one of {', '.join(intervals.WIDTHS)}")
        parser.add_argument("--start", help="first open time, UTC: 2024-01-01 or 2024-01-01T08:00")
        parser.add_argument("--end", help="last open time, UTC (default: now)")
        parser.add_argument(
            "--venue",
            help=f"the store's venue name (default: {EXCHANGE_VENUE}, or {files.REPLAY_VENUE} for files)",
        )
        parser.add_argument(
            "--base-url",
            default=settings.BYBIT_PUBLIC_URL,
            help="Bybit's address (default: BYBIT_PUBLIC_URL, else mainnet)",
        )
        parser.add_argument(
            "--progress",
            action=argparse.BooleanOptionalAction,
            default=None,
            help="draw a progress bar on stderr (default: when stderr is a terminal)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        start, end = _moment(options["start"], "--start"), _moment(options["end"], "--end")
        if start and end and end < start:
            raise CommandError(f"--end ({options['end']}) is before --start ({options['start']}).")
        if options["shipped"]:
            reports = [self._from_file(path, options, start, end) for path in _shipped_files()]
        elif options["file"]:
            reports = [self._from_file(options["file"], options, start, end)]
        else:
            reports = [self._from_exchange(options, start, end or datetime.now(UTC))]
        for report in reports:
            self.stdout.write(summary(report))

    def _from_exchange(self, options: dict[str, Any], start: datetime | None, end: datetime) -> ImportReport:
        from exchanges.bybit.adapter import BybitExchange  # pybit loads only for this source

        venue = options["venue"] or EXCHANGE_VENUE
        if venue != EXCHANGE_VENUE:
            raise CommandError(
                f"Candles are fetched from {EXCHANGE_VENUE} only; other venues come from --file."
            )
        if not options["symbol"] or not options["interval"]:
            raise CommandError("Give --symbol and --interval (or --file, or --shipped).")
        series = _series(venue, options["symbol"].upper(), options["interval"])
        base_url = options["base_url"] or None
        exchange = BybitExchange("", "", environment="custom" if base_url else "mainnet", base_url=base_url)
        try:
            exchange.ticker(series.symbol)
        except InvalidOrder as exc:
            raise CommandError(
                f"Unknown symbol {series.symbol}: {venue} lists no such spot market ({exc})."
            ) from exc
        except ExchangeError as exc:
            raise CommandError(f"{venue} cannot be reached: {exc}") from exc
        progress = self._progress(series, options)
        try:
            return import_from_exchange(exchange, series, start, end, progress=progress)
        except NothingToResume as exc:
            raise CommandError(str(exc)) from exc
        except ExchangeError as exc:
            raise CommandError(
                f"{venue} failed while importing {series}: {exc}. What was fetched is stored; "
                "run the command again to continue."
            ) from exc
        finally:
            progress.finish()

    def _from_file(
        self, path: Path, options: dict[str, Any], start: datetime | None, end: datetime | None
    ) -> ImportReport:
        if not path.is_file():
            raise CommandError(f"No candle file at {path}.")
        named = files.series_named_by(path)
        symbol = options["symbol"] or (named.symbol if named else None)
        interval = options["interval"] or (named.interval if named else None)
        if not symbol or not interval:
            raise CommandError(f"{path.name} does not name its series: give --symbol and --interval.")
        series = _series(options["venue"] or files.REPLAY_VENUE, symbol.upper(), interval)
        progress = self._progress(series, options)
        try:
            return import_from_file(path, series, start, end, progress=progress)
        except (MisalignedCandle, KeyError, ValueError, ArithmeticError) as exc:
            raise CommandError(f"{path.name} is not a readable {series.interval} candle file: {exc}") from exc
        finally:
            progress.finish()

    def _progress(self, series: Series, options: dict[str, Any]) -> TextProgress:
        enabled = options["progress"]
        if enabled is None:
            enabled = self.stderr.isatty()
        return TextProgress(self.stderr, str(series), enabled=enabled)


def _shipped_files() -> list[Path]:
    found = files.candle_files(Path(settings.PRICE_DATA_DIR))
    if not found:
        raise CommandError(f"No candle files (*.csv.gz) in {settings.PRICE_DATA_DIR}.")
    return found


def _series(venue: str, symbol: str, interval: str) -> Series:
    try:
        return Series(venue, symbol, interval)
    except intervals.UnknownInterval as exc:
        raise CommandError(str(exc)) from exc


def _moment(text: str | None, option: str) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise CommandError(
            f"{option} {text!r} is not a date: use 2024-01-01 or 2024-01-01T08:00 (UTC)."
        ) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def summary(report: ImportReport) -> str:
    span = (
        f"{report.first:{TIME_FORMAT}} → {report.last:{TIME_FORMAT}} UTC"
        if report.first and report.last and report.first <= report.last
        else "nothing new to fetch"
    )
    lines = [
        f"{report.series}: {report.stored:,} new candles ({report.read:,} read, "
        f"{report.already_stored:,} already stored), {span}, "
        f"{report.seconds:.1f} s, {report.rows_per_second:,.0f} rows/s."
    ]
    if not report.gaps:
        lines.append("No gaps.")
        return "\n".join(lines)
    lines.append(f"{len(report.gaps):,} gap(s), {report.missing:,} candle(s) missing (not filled):")
    lines += [
        f"  {gap.first:{TIME_FORMAT}} → {gap.last:{TIME_FORMAT}} UTC ({gap.missing:,} missing)"
        for gap in report.gaps[:GAPS_LISTED]
    ]
    if len(report.gaps) > GAPS_LISTED:
        lines.append(f"  … and {len(report.gaps) - GAPS_LISTED:,} more.")
    return "\n".join(lines)
