"""Parameter optimisation (bots/backtest/optimise.py): candidates within the bounds, ranking by each
objective, the walk-forward split, chunks, and figures that agree with exact mode. Pure: no database."""

from __future__ import annotations

import math
from dataclasses import replace
from decimal import Decimal
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from bots.backtest import kernel, optimise
from bots.backtest.metrics import metrics
from bots.backtest.optimise import Bounds, Method, Objective, Score, Search
from bots.strategies.grid import Direction, GridConfig, Spacing
from exchanges.market_data.files import read_candle_file
from exchanges.paper.instruments import INSTRUMENTS

D = Decimal
BTC = INSTRUMENTS["BTCUSDT"]
FIVE_MINUTES = Path(__file__).resolve().parents[2] / "exchanges/data/btcusdt-5m-2023-01-02--2023-02-09.csv.gz"
BASE = GridConfig("BTCUSDT", D(16000), D(17000), 10, D(5000))
BOUNDS = Bounds(
    lower_price=(D(16000), D(16600)),
    upper_price=(D(17200), D(18500)),
    grid_count=(5, 40),
    spacings=(Spacing.ARITHMETIC, Spacing.GEOMETRIC),
    directions=(Direction.LONG, Direction.SHORT),
)
SEARCH = Search(BASE, BOUNDS, method=Method.GRID, steps=3, top=5)


@cache
def ten_days() -> kernel.CandleArrays:
    """Ten days of the shipped 5m series: the price wanders 16.6k-18k, grids trade throughout."""
    return kernel.CandleArrays.of(read_candle_file(FIVE_MINUTES)[:2880], BTC.tick_size)


def test_a_grid_search_tries_every_combination_within_the_bounds_on_the_tick() -> None:
    configs = optimise.candidates(SEARCH, BTC)

    assert len(configs) == SEARCH.size == 3 * 3 * 3 * 4
    assert {c.lower_price for c in configs} == {D(16000), D(16300), D(16600)}
    assert {c.upper_price for c in configs} == {D(17200), D(17850), D(18500)}
    assert {c.grid_count for c in configs} == {5, 22, 40}  # 22.5 rounds to even
    assert {(c.spacing, c.direction) for c in configs} == {(s, d) for s in Spacing for d in Direction}
    assert all(c.investment == BASE.investment and c.symbol == "BTCUSDT" for c in configs)


def test_a_random_search_is_repeatable_by_its_seed_and_stays_within_the_bounds() -> None:
    search = replace(SEARCH, method=Method.RANDOM, runs=50, seed=7)
    first = optimise.candidates(search, BTC)

    assert first == optimise.candidates(search, BTC)
    assert first != optimise.candidates(replace(search, seed=8), BTC)
    assert len(first) == 50
    for config in first:
        assert D(16000) <= config.lower_price <= D(16600)
        assert D(17200) <= config.upper_price <= D(18500)
        assert 5 <= config.grid_count <= 40
        assert config.lower_price % BTC.tick_size == 0


def score(index: int, total_return: str, drawdown: float, sharpe: float | None) -> Score:
    return Score(index, D(total_return), drawdown, sharpe, D(0), D(0), 0, 0)


HAND_MADE = [
    score(0, "0.10", 0.20, 1.0),  # return/drawdown 0.5
    score(1, "0.05", 0.01, 3.0),  # 5
    score(2, "0.20", 0.50, None),  # 0.4; no Sharpe: ranks last on it
    score(3, "0.02", 0.0, 0.5),  # never fell: first on return/drawdown
    score(4, "0.10", 0.10, 2.0),  # ties 0 on return; the earlier candidate goes first
]


@pytest.mark.parametrize(
    ("objective", "order"),
    [
        (Objective.TOTAL_RETURN, [2, 0, 4, 1, 3]),
        (Objective.RETURN_OVER_DRAWDOWN, [3, 1, 4, 0, 2]),
        (Objective.SHARPE, [1, 4, 0, 3, 2]),
    ],
)
def test_ranking_by_each_objective_on_a_hand_made_case(objective: Objective, order: list[int]) -> None:
    assert [s.index for s in optimise.rank(HAND_MADE, objective)] == order
    assert [s.index for s in optimise.rank(reversed(HAND_MADE), objective)] == order


def test_the_winner_is_the_best_candidate_on_the_training_part_by_brute_force() -> None:
    train, _ = optimise.split(ten_days(), SEARCH.train_fraction)
    configs = optimise.candidates(SEARCH, BTC)
    outcome = optimise.optimise(SEARCH, BTC, ten_days())

    every = [optimise.evaluate(i, c, BTC, train) for i, c in enumerate(configs)]
    valid = [s for s in every if s is not None]
    assert outcome.evaluated == len(valid) > 10
    assert outcome.skipped == len(configs) - len(valid)
    best = max(valid, key=lambda s: s.total_return)
    assert outcome.ranked[0].index == best.index
    assert outcome.ranked[0].train == best
    assert [r.train.total_return for r in outcome.ranked] == sorted(
        (s.total_return for s in valid), reverse=True
    )[: SEARCH.top]


def test_candidates_the_grid_refuses_are_skipped_and_counted() -> None:
    # A range whose lower bound may pass its upper one: those candidates fail the grid's validation.
    search = replace(
        SEARCH, bounds=replace(BOUNDS, lower_price=(D(16000), D(19000)), upper_price=(D(17000), D(18000)))
    )
    outcome = optimise.optimise(search, BTC, ten_days())

    configs = optimise.candidates(search, BTC)
    inverted = sum(1 for c in configs if c.lower_price >= c.upper_price)
    assert inverted > 0
    assert outcome.skipped >= inverted
    assert outcome.evaluated + outcome.skipped == len(configs)
    assert all(r.config.lower_price < r.config.upper_price for r in outcome.ranked)


def test_the_report_part_never_influences_the_choice() -> None:
    series = ten_days()
    train, report_part = optimise.split(series, SEARCH.train_fraction)
    assert len(train) == 2016
    assert len(train) + len(report_part) == len(series)
    chosen = optimise.optimise(SEARCH, BTC, series)

    # The report part turned into a crash to half the price: the choice and its training figures stay.
    at = len(train)
    crashed = replace(
        series,
        open=np.concatenate((series.open[:at], series.open[at:] // 2)),
        high=np.concatenate((series.high[:at], series.high[at:] // 2)),
        low=np.concatenate((series.low[:at], series.low[at:] // 2)),
        close=np.concatenate((series.close[:at], series.close[at:] // 2)),
    )
    after = optimise.optimise(SEARCH, BTC, crashed)

    assert [(r.index, r.train) for r in after.ranked] == [(r.index, r.train) for r in chosen.ranked]
    assert [r.report for r in after.ranked] != [r.report for r in chosen.ranked]
    # The report figures are a fresh run over the report part alone.
    winner = chosen.ranked[0]
    assert winner.report == optimise.evaluate(winner.index, winner.config, BTC, report_part)
    assert winner.train == optimise.evaluate(winner.index, winner.config, BTC, train)


@pytest.mark.parametrize("objective", list(Objective))
def test_a_search_run_in_chunks_ranks_as_one_run(objective: Objective) -> None:
    search = replace(SEARCH, objective=objective)
    whole = optimise.optimise(search, BTC, ten_days())

    assert optimise.optimise(search, BTC, ten_days(), chunk_size=7) == whole
    assert optimise.optimise(search, BTC, ten_days(), chunk_size=1) == whole


def test_kernel_figures_agree_with_exact_mode_and_its_metrics() -> None:
    series = ten_days()
    config = replace(BASE, lower_price=D(16300), upper_price=D(17800), grid_count=25)
    figures = optimise.evaluate(0, config, BTC, series)
    checked = metrics(optimise.recheck(config, BTC, series))

    assert figures is not None
    assert figures.total_return == checked.total_return
    assert figures.grid_profit == checked.grid_profit
    assert figures.round_trips == checked.round_trips > 10
    assert math.isclose(figures.max_drawdown, float(checked.max_drawdown.fraction), rel_tol=1e-9)
    assert checked.sharpe is not None
    assert figures.sharpe is not None
    assert math.isclose(figures.sharpe, float(checked.sharpe), rel_tol=1e-9)


def test_a_window_too_short_to_split_is_refused() -> None:
    with pytest.raises(ValueError, match="two candles"):
        optimise.split(optimise.part(ten_days(), 0, 1), D("0.7"))


def swings(count: int) -> kernel.CandleArrays:
    """A hand-made market: every candle swings from 19,800 to 20,200 and back to 20,000."""
    times = 1_700_000_000_000 + 300_000 * np.arange(count, dtype=np.int64)
    flat = np.full(count, 200_000, dtype=np.int64)  # in tenths
    return kernel.CandleArrays(D("0.1"), times, flat, flat + 2_000, flat - 2_000, flat)


@pytest.mark.parametrize(
    ("objective", "order"),
    [
        # 19,000-20,100 and 19,900-21,000 each have one gap of 275 inside the swing: a trip a candle.
        # 19,900-20,100 trips four times as often, but its 50 gaps leave little after two 0.1% fees.
        (Objective.TOTAL_RETURN, [(19000, 20100), (19900, 21000), (19900, 20100), (19000, 21000)]),
        # The two wide-gapped ones never fall: they rank first, the earlier candidate ahead.
        (Objective.RETURN_OVER_DRAWDOWN, [(19000, 20100), (19900, 21000), (19900, 20100), (19000, 21000)]),
        # The steadiest daily gains are the narrow grid's; no line to trip across: no Sharpe, last.
        (Objective.SHARPE, [(19900, 20100), (19900, 21000), (19000, 20100), (19000, 21000)]),
    ],
)
def test_a_hand_made_swinging_market_ranks_by_each_objective(
    objective: Objective, order: list[tuple[int, int]]
) -> None:
    search = Search(
        BASE,
        Bounds(lower_price=(D(19000), D(19900)), upper_price=(D(20100), D(21000)), grid_count=(4, 4)),
        steps=2,
        objective=objective,
    )
    outcome = optimise.optimise(search, BTC, swings(600))

    assert [(r.config.lower_price, r.config.upper_price) for r in outcome.ranked] == [
        (D(low), D(high)) for low, high in order
    ]
    trips = {
        (int(r.config.lower_price), int(r.config.upper_price)): r.train.round_trips for r in outcome.ranked
    }
    assert trips[(19900, 20100)] == 4 * trips[(19000, 20100)] > 1000
    assert trips[(19000, 21000)] == 0  # its only line inside the swing is 20,000
