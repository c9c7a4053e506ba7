"""`manage.py import_candles` end to end: the shipped files, and Bybit's klines through pybit
from the simulator, into PostgreSQL."""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from pybit.unified_trading import HTTP

from exchanges.base import Candle
from exchanges.bybit.adapter import BybitExchange
from exchanges.market_data import store
from exchanges.market_data.files import read_candle_file
from exchanges.market_data.models import Candle as StoredCandle
from exchanges.market_data.store import Series
from exchanges.paper.exchange import PaperExchange
from exchanges.paper.service import open_paper_account
from exchanges.simulator.records import kline_row
from exchanges.simulator.server import BybitSimulator
from exchanges.tasks import advance_paper_markets

DATA = Path(__file__).resolve().parents[1] / "data"
SHIPPED_5M = DATA / "btcusdt-5m-2023-01-02--2023-02-09.csv.gz"
SHIPPED_1H = DATA / "btcusd-1h-2017-07-01--2019-10-17.csv.gz"
FIRST_5M = datetime(2023, 1, 2, 16, 45, tzinfo=UTC)
LAST_5M = datetime(2023, 2, 9, 21, 15, tzinfo=UTC)
FIVE = timedelta(minutes=5)


def run(*arguments: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command("import_candles", *arguments, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def stored(venue: str, symbol: str = "BTCUSDT", interval: str = "5m") -> list[Candle]:
    far = datetime(2100, 1, 1, tzinfo=UTC)
    return store.candles_between(venue, symbol, interval, datetime(2000, 1, 1, tzinfo=UTC), far)


def from_bybit(simulator: BybitSimulator, *arguments: str) -> tuple[str, str]:
    return run("--symbol", "BTCUSDT", "--interval", "5m", "--base-url", simulator.url, *arguments)


@pytest.fixture
def replay(db: None) -> list[Candle]:
    """The shipped 5-minute series in the store, as the simulator serves it."""
    run("--file", str(SHIPPED_5M))
    return stored("replay")


@pytest.fixture
def pages(monkeypatch: pytest.MonkeyPatch) -> list[tuple[datetime, datetime, int]]:
    """Each kline request the import sends: (start, end, candles answered)."""
    sent: list[tuple[datetime, datetime, int]] = []
    klines = BybitExchange.klines

    def counting(self: BybitExchange, symbol: str, interval: str, *args: Any, **kwargs: Any) -> list[Candle]:
        answer = klines(self, symbol, interval, *args, **kwargs)
        sent.append((args[0], args[1], len(answer)))
        return answer

    monkeypatch.setattr(BybitExchange, "klines", counting)
    return sent


# The shipped files ---------------------------------------------------------------------------


def test_the_shipped_5m_file_is_stored_exactly_as_written(db: None) -> None:
    out, err = run("--file", str(SHIPPED_5M))

    assert stored("replay") == list(read_candle_file(SHIPPED_5M))
    assert StoredCandle.objects.count() == 10_999
    assert "replay BTCUSDT 5m: 10,999 new candles (10,999 read, 0 already stored)" in out
    assert "2023-01-02 16:45 → 2023-02-09 21:15 UTC" in out
    assert "rows/s" in out
    assert "No gaps." in out
    assert err == "", "no progress bar where stderr is not a terminal"


def test_importing_a_file_again_stores_nothing_twice(db: None) -> None:
    run("--file", str(SHIPPED_5M))

    out, _ = run("--file", str(SHIPPED_5M))

    assert "0 new candles (10,999 read, 10,999 already stored)" in out
    assert StoredCandle.objects.count() == 10_999


def test_every_shipped_series_is_imported_under_its_own_name(db: None) -> None:
    out, _ = run("--shipped")

    assert stored("replay", "BTCUSD", "1h") == list(read_candle_file(SHIPPED_1H))
    assert len(stored("replay")) == 10_999
    assert "replay BTCUSD 1h: 20,111 new candles" in out


def test_the_progress_bar_draws_on_stderr_when_asked(db: None) -> None:
    _, err = run("--file", str(SHIPPED_5M), "--progress")

    assert err.startswith("\rreplay BTCUSDT 5m [")
    assert err.endswith("[" + "#" * 30 + "] 100%  10,999/10,999\n")


# Bad input --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (
            ["--symbol", "BTCUSDT", "--interval", "7m", "--start", "2024-01-01"],
            "Unknown candle interval '7m'; use one of 1m, 3m",
        ),
        (
            ["--symbol", "BTCUSDT", "--interval", "5m", "--start", "2024-02-01", "--end", "2024-01-01"],
            "--end (2024-01-01) is before --start (2024-02-01).",
        ),
        (
            ["--symbol", "BTCUSDT", "--interval", "5m", "--start", "yesterday"],
            "--start 'yesterday' is not a date",
        ),
        (["--interval", "5m", "--start", "2024-01-01"], "Give --symbol and --interval"),
        (
            ["--venue", "binance", "--symbol", "BTCUSDT", "--interval", "5m"],
            "Candles are fetched from bybit only; other venues come from --file.",
        ),
        (["--file", "/nowhere/btcusdt-5m.csv.gz"], "No candle file at /nowhere/btcusdt-5m.csv.gz."),
        (
            ["--file", str(SHIPPED_5M), "--interval", "1h"],
            "is not a readable 1h candle file: A 1h candle cannot open at 2023-01-02 16:45:00",
        ),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(db: None, arguments: list[str], message: str) -> None:
    with pytest.raises(CommandError) as refused:
        run(*arguments)
    assert message in str(refused.value)


def test_an_unknown_symbol_is_refused_by_name(simulator: BybitSimulator) -> None:
    with pytest.raises(CommandError, match="Unknown symbol DOGEUSDC: bybit lists no such spot market"):
        run("--symbol", "dogeusdc", "--interval", "5m", "--start", "2023-01-01", "--base-url", simulator.url)


def test_a_first_import_needs_a_start(simulator: BybitSimulator) -> None:
    with pytest.raises(CommandError, match="No bybit BTCUSDT 5m candles are stored yet: give a start"):
        from_bybit(simulator)


# From Bybit's klines, through pybit and the simulator -------------------------------------------------------


def test_the_import_pages_through_bybits_klines_1000_at_a_time(
    simulator: BybitSimulator, replay: list[Candle], pages: list[tuple[datetime, datetime, int]]
) -> None:
    out, _ = from_bybit(simulator, "--start", "2023-01-02T16:45", "--end", "2023-02-09T21:15")

    assert stored("bybit") == replay
    assert [answered for _, _, answered in pages] == [1000] * 10 + [999]
    assert all(later[0] == earlier[1] + FIVE for earlier, later in itertools.pairwise(pages))
    assert "bybit BTCUSDT 5m: 10,999 new candles (10,999 read, 0 already stored)" in out
    assert "No gaps." in out


def test_a_stopped_import_continues_after_its_last_stored_candle(
    simulator: BybitSimulator, replay: list[Candle], pages: list[tuple[datetime, datetime, int]]
) -> None:
    def venue_goes_down_after_three_pages(original: Callable[..., Any]) -> Callable[..., Any]:
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            if len(pages) == 3:
                simulator.faults.configure(server_error_requests=1000)
            return original(*args, **kwargs)

        return wrapped

    klines = BybitExchange.klines
    BybitExchange.klines = venue_goes_down_after_three_pages(klines)  # type: ignore[method-assign]
    try:
        with pytest.raises(
            CommandError, match="What was fetched is stored; run the command again to continue"
        ):
            from_bybit(simulator, "--start", "2023-01-02T16:45", "--end", "2023-02-09T21:15")
    finally:
        BybitExchange.klines = klines  # type: ignore[method-assign]
    assert stored("bybit") == replay[:3000]

    simulator.faults.reset()
    pages.clear()
    out, _ = from_bybit(simulator, "--end", "2023-02-09T21:15")

    assert pages[0][0] == replay[3000].open_time, "it asks for nothing it already has"
    assert "7,999 new candles (7,999 read, 0 already stored)" in out
    assert stored("bybit") == replay


def test_a_rerun_over_a_stored_range_fetches_nothing_and_duplicates_nothing(
    simulator: BybitSimulator, replay: list[Candle], pages: list[tuple[datetime, datetime, int]]
) -> None:
    from_bybit(simulator, "--start", "2023-01-02T16:45", "--end", "2023-01-09")
    pages.clear()

    out, _ = from_bybit(simulator, "--start", "2023-01-02T16:45", "--end", "2023-01-09")

    assert pages == []
    assert "0 new candles (0 read, 0 already stored), nothing new to fetch" in out
    assert StoredCandle.objects.filter(venue="bybit").count() == len(stored("bybit"))


def test_candles_the_venue_lacks_are_reported_as_gaps_and_not_invented(
    simulator: BybitSimulator, replay: list[Candle]
) -> None:
    hole = (datetime(2023, 1, 10, 8, tzinfo=UTC), datetime(2023, 1, 10, 9, 55, tzinfo=UTC))
    StoredCandle.objects.filter(venue="replay", open_time__range=hole).delete()

    out, _ = from_bybit(simulator, "--start", "2023-01-02T16:45", "--end", "2023-01-12")

    assert "1 gap(s), 24 candle(s) missing (not filled):" in out
    assert "  2023-01-10 08:00 → 2023-01-10 09:55 UTC (24 missing)" in out
    assert not StoredCandle.objects.filter(venue="bybit", open_time__range=hole).exists()
    assert store.find_gaps("bybit", "BTCUSDT", "5m", FIRST_5M, datetime(2023, 1, 12, tzinfo=UTC)) == [
        store.Gap(hole[0], hole[1], 24)
    ]


def test_the_candle_still_forming_is_not_stored(simulator: BybitSimulator, db: None) -> None:
    now = datetime.now(UTC)
    current = now.replace(second=0, microsecond=0) - timedelta(minutes=now.minute % 5)
    closed = [current - FIVE * i for i in range(3, 0, -1)]
    store.save_candles(Series("replay", "BTCUSDT", "5m"), [_flat(t) for t in [*closed, current]])

    from_bybit(simulator, "--start", closed[0].isoformat())

    assert [candle.open_time for candle in stored("bybit")] == closed


def _flat(open_time: datetime) -> Candle:
    candles = read_candle_file(SHIPPED_5M)
    return Candle(
        open_time, *(getattr(candles[0], name) for name in ("open", "high", "low", "close", "volume"))
    )


# The simulator's kline endpoint -------------------------------------------------------------------


@pytest.fixture
def client(simulator: BybitSimulator) -> HTTP:
    http = HTTP(max_retries=1)
    http.endpoint = simulator.url
    return http


def ms(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


def test_the_simulator_answers_klines_from_the_store_newest_first(client: HTTP, replay: list[Candle]) -> None:
    body = client.get_kline(
        category="spot",
        symbol="BTCUSDT",
        interval="5",
        start=ms(FIRST_5M),
        end=ms(FIRST_5M + FIVE * 9),
        limit=4,
    )

    assert body["retCode"] == 0
    assert body["retMsg"] == "OK"
    assert body["result"]["symbol"] == "BTCUSDT"
    assert body["result"]["category"] == "spot"
    assert body["result"]["list"] == [kline_row(candle) for candle in reversed(replay[6:10])]


def test_the_simulator_serves_at_most_1000_klines(client: HTTP, replay: list[Candle]) -> None:
    body = client.get_kline(category="spot", symbol="BTCUSDT", interval="5", end=ms(LAST_5M), limit=5000)

    assert len(body["result"]["list"]) == 1000
    assert body["result"]["list"][0][0] == str(ms(LAST_5M))


@pytest.mark.parametrize(
    ("code", "interval", "opens"),
    [
        ("3", "3m", [datetime(2023, 1, 2, tzinfo=UTC) + timedelta(minutes=3 * i) for i in range(3)]),
        ("720", "12h", [datetime(2023, 1, 2, 12 * i, tzinfo=UTC) for i in range(2)]),
        ("W", "1w", [datetime(2023, 1, 2, tzinfo=UTC), datetime(2023, 1, 9, tzinfo=UTC)]),
        ("M", "1M", [datetime(2023, 1, 1, tzinfo=UTC), datetime(2023, 2, 1, tzinfo=UTC)]),
    ],
)
def test_the_simulator_serves_every_bybit_interval_code(
    client: HTTP, db: None, code: str, interval: str, opens: list[datetime]
) -> None:
    store.save_candles(Series("replay", "BTCUSDT", interval), [_flat(t) for t in opens])

    body = client.get_kline(
        category="spot", symbol="BTCUSDT", interval=code, start=ms(opens[0]), end=ms(opens[-1])
    )

    assert [row[0] for row in body["result"]["list"]] == [str(ms(t)) for t in reversed(opens)]


def test_an_unknown_interval_code_is_bybits_parameter_error(client: HTTP) -> None:
    from pybit.exceptions import InvalidRequestError

    with pytest.raises(InvalidRequestError, match="Invalid period"):
        client.get_kline(category="spot", symbol="BTCUSDT", interval="7")


# The exchange interface's klines -----------------------------------------------------------------


def test_klines_is_one_request_of_the_newest_candles_oldest_first(db: None) -> None:
    for _ in range(30):  # a minute of beat: the market's feed history leads up to its price
        advance_paper_markets()
    paper = PaperExchange(open_paper_account("klines", {"USDT": Decimal("1000")}))
    end = datetime.now(UTC)
    every = paper.candles("BTCUSDT", "15m", end - timedelta(days=1), end)

    newest = paper.klines("BTCUSDT", "15m", end - timedelta(days=1), end, 10)

    assert len(every) > 10
    assert newest == every[-10:]
    with pytest.raises(ValueError, match="limit must be between 1 and 1000"):
        paper.klines("BTCUSDT", "15m", end - timedelta(days=1), end, 1001)


def test_bybits_klines_and_candles_agree_over_many_pages(
    simulator: BybitSimulator, replay: list[Candle]
) -> None:
    bybit = BybitExchange("", "", environment="custom", base_url=simulator.url)

    assert bybit.candles("BTCUSDT", "5m", FIRST_5M, LAST_5M) == replay
    assert bybit.klines("BTCUSDT", "5m", FIRST_5M, LAST_5M, 3) == replay[-3:]


def test_before_any_import_the_simulator_serves_the_shipped_file(client: HTTP, db: None) -> None:
    shipped = read_candle_file(SHIPPED_5M)

    body = client.get_kline(
        category="spot",
        symbol="BTCUSDT",
        interval="5",
        start=ms(FIRST_5M),
        end=ms(FIRST_5M + FIVE * 999),
        limit=1000,
    )

    assert StoredCandle.objects.count() == 0
    assert body["result"]["list"] == [kline_row(candle) for candle in reversed(shipped[:1000])]


def test_the_shipped_series_travels_through_pybit_into_the_store_unchanged(simulator: BybitSimulator) -> None:
    out, _ = from_bybit(simulator, "--start", "2023-01-02T16:45", "--end", "2023-02-09T21:15")

    assert stored("bybit") == list(read_candle_file(SHIPPED_5M))
    assert "No gaps." in out
