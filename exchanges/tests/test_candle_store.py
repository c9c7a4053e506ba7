"""The candle store: exact decimals, one row per candle, gaps reported and never filled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from exchanges.base import Candle
from exchanges.market_data import intervals, store
from exchanges.market_data.files import NamedSeries, read_candle_file, series_named_by
from exchanges.market_data.models import Candle as StoredCandle
from exchanges.market_data.store import Gap, MisalignedCandle, Series
from exchanges.paper.feeds import ReplayFeed

SERIES = Series("replay", "BTCUSDT", "5m")
T0 = datetime(2024, 3, 1, tzinfo=UTC)
FIVE = timedelta(minutes=5)
SHIPPED_5M = Path(__file__).resolve().parents[1] / "data" / "btcusdt-5m-2023-01-02--2023-02-09.csv.gz"


def candle(open_time: datetime, close: str = "61000.5", volume: str = "0.000000012345678901") -> Candle:
    price = Decimal(close)
    return Candle(open_time, price, price + 1, price - 1, price, Decimal(volume))


def test_intervals_align_weeks_on_mondays_and_months_on_the_first() -> None:
    moment = datetime(2024, 2, 29, 13, 7, tzinfo=UTC)  # a Thursday in a leap February
    assert intervals.floor("5m", moment) == datetime(2024, 2, 29, 13, 5, tzinfo=UTC)
    assert intervals.floor("1w", moment) == datetime(2024, 2, 26, tzinfo=UTC)
    assert intervals.floor("1M", moment) == datetime(2024, 2, 1, tzinfo=UTC)
    assert intervals.step("1M", datetime(2024, 12, 1, tzinfo=UTC)) == datetime(2025, 1, 1, tzinfo=UTC)
    assert intervals.step("1M", datetime(2024, 1, 1, tzinfo=UTC), -2) == datetime(2023, 11, 1, tzinfo=UTC)
    assert (
        intervals.count_between("1M", datetime(2023, 11, 1, tzinfo=UTC), datetime(2024, 2, 1, tzinfo=UTC))
        == 4
    )
    assert intervals.ceil("1h", datetime(2024, 1, 1, 0, 1, tzinfo=UTC)) == datetime(2024, 1, 1, 1, tzinfo=UTC)
    with pytest.raises(intervals.UnknownInterval, match="7m"):
        intervals.check("7m")


def test_candles_read_back_exactly_oldest_first(db: None) -> None:
    store.save_candles(SERIES, [candle(T0 + FIVE, "61000.5"), candle(T0, "60999.25")])

    read = store.candles_between("replay", "BTCUSDT", "5m", T0, T0 + FIVE)

    assert read == [candle(T0, "60999.25"), candle(T0 + FIVE, "61000.5")]
    assert str(read[0].close) == "60999.25"
    assert str(read[0].volume) == "1.2345678901E-8"
    assert str(read[1].high) == "61001.5", "no padding zeros from the column's scale"
    assert store.candles_between("replay", "BTCUSDT", "1h", T0, T0 + FIVE) == []
    assert store.candles_between("bybit", "BTCUSDT", "5m", T0, T0 + FIVE) == []


def test_saving_again_never_duplicates_nor_rewrites(db: None) -> None:
    assert store.save_candles(SERIES, [candle(T0), candle(T0 + FIVE)]) == 2

    assert store.save_candles(SERIES, [candle(T0, "1"), candle(T0 + FIVE * 2)]) == 1

    assert StoredCandle.objects.count() == 3
    assert store.candles_between("replay", "BTCUSDT", "5m", T0, T0)[0].close == Decimal("61000.5")


def test_a_candle_off_its_intervals_grid_is_refused(db: None) -> None:
    with pytest.raises(MisalignedCandle, match="5m candle cannot open at 2024-03-01 00:02:00"):
        store.save_candles(SERIES, [candle(T0), candle(T0 + timedelta(minutes=2))])
    assert StoredCandle.objects.count() == 0, "the whole page or nothing"


def test_newest_candles_answer_like_a_kline_query(db: None) -> None:
    store.save_candles(SERIES, [candle(T0 + FIVE * i) for i in range(10)])

    newest = store.newest_candles("replay", "BTCUSDT", "5m", T0 + FIVE * 2, T0 + FIVE * 8, 3)

    assert [c.open_time for c in newest] == [T0 + FIVE * 8, T0 + FIVE * 7, T0 + FIVE * 6]
    assert len(store.newest_candles("replay", "BTCUSDT", "5m", None, T0 + FIVE * 8, 100)) == 9


def test_gaps_at_the_head_inside_and_at_the_tail_are_reported(db: None) -> None:
    stored = [2, 3, 4, 7, 8]
    store.save_candles(SERIES, [candle(T0 + FIVE * i) for i in stored])

    gaps = store.find_gaps("replay", "BTCUSDT", "5m", T0, T0 + FIVE * 11)

    assert gaps == [
        Gap(T0, T0 + FIVE, 2),
        Gap(T0 + FIVE * 5, T0 + FIVE * 6, 2),
        Gap(T0 + FIVE * 9, T0 + FIVE * 11, 3),
    ]
    assert StoredCandle.objects.count() == len(stored), "reported, not filled"
    assert store.find_gaps("replay", "BTCUSDT", "5m", T0 + FIVE * 2, T0 + FIVE * 4) == []


def test_monthly_gaps_count_calendar_months(db: None) -> None:
    monthly = Series("replay", "BTCUSDT", "1M")
    months = [datetime(2023, month, 1, tzinfo=UTC) for month in (1, 2, 6)]
    store.save_candles(monthly, [candle(month) for month in months])

    gaps = store.find_gaps("replay", "BTCUSDT", "1M", months[0], datetime(2023, 6, 30, tzinfo=UTC))

    assert gaps == [Gap(datetime(2023, 3, 1, tzinfo=UTC), datetime(2023, 5, 1, tzinfo=UTC), 3)]


def test_the_paper_feed_and_the_importer_read_files_through_one_reader() -> None:
    path = SHIPPED_5M
    candles = read_candle_file(path)
    point = ReplayFeed.from_csv(path).point_at(5)

    assert series_named_by(path) == NamedSeries("BTCUSDT", "5m")
    assert (point.time, point.price, point.high, point.low, point.volume) == (
        candles[5].open_time,
        candles[5].close,
        candles[5].high,
        candles[5].low,
        candles[5].volume,
    )


def test_a_long_list_of_gaps_is_summarised_after_twenty() -> None:
    from exchanges.management.commands.import_candles import summary
    from exchanges.market_data.importer import ImportReport

    gaps = [Gap(T0 + FIVE * 2 * i, T0 + FIVE * 2 * i, 1) for i in range(25)]
    report = ImportReport(SERIES, read=10, stored=10, first=T0, last=T0 + FIVE * 60, seconds=0.5, gaps=gaps)

    lines = summary(report).splitlines()

    assert lines[0].endswith("0.5 s, 20 rows/s.")
    assert lines[1] == "25 gap(s), 25 candle(s) missing (not filled):"
    assert lines[2] == "  2024-03-01 00:00 → 2024-03-01 00:00 UTC (1 missing)"
    assert len(lines) == 2 + 20 + 1
    assert lines[-1] == "  … and 5 more."
