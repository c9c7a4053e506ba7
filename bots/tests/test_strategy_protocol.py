"""The strategy protocol (bots/strategies/base.py): the grid implements it, the engine knows no
strategy by name, and a second strategy runs through the real engine with no engine change."""

from __future__ import annotations

import ast
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bots import actions, engine
from bots.models import Bot, BotStatus
from bots.strategies import grid, registry
from bots.strategies.base import (
    Decision,
    ExitAction,
    ExitReason,
    Json,
    Milestone,
    OrderIntent,
    OrderKey,
    StartTrade,
    Strategy,
    StrategyFill,
)
from bots.tests.conftest import grid_config, venue
from exchanges.base import Instrument, Side
from exchanges.paper import market
from exchanges.paper.instruments import INSTRUMENTS
from trading.models import Order, OrderStatus

D = Decimal
BTC = INSTRUMENTS["BTCUSDT"]
ROOT = Path(__file__).resolve().parents[2]


# The engine is strategy-agnostic --------------------------------------------------------


def test_the_engine_imports_no_strategy_module() -> None:
    tree = ast.parse((ROOT / "bots/engine.py").read_text())
    imported: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    strategy_modules = {name for name in imported if name.startswith("bots.strategies")}
    assert strategy_modules <= {
        "bots.strategies.base",
        "bots.strategies.registry",
        *(
            name
            for name in imported
            if name.startswith(("bots.strategies.base.", "bots.strategies.registry."))
        ),
    }, strategy_modules
    assert not any("grid" in name.split(".")[-1] for name in strategy_modules)


def test_the_grid_is_registered_and_implements_the_protocol() -> None:
    assert registry.strategy_named("grid") is grid.GRID
    assert isinstance(grid.GRID, Strategy)
    assert ("grid", "Grid") in registry.choices()
    with pytest.raises(LookupError):
        registry.strategy_named("nonesuch")


def test_the_grid_keeps_its_old_names() -> None:
    assert grid.GridConfigError is grid.ConfigError
    assert grid.GridFill is StrategyFill
    assert grid.ExitReason is ExitReason


# Serialisable state ------------------------------------------------------------------------


def _config(count: int, direction: grid.Direction) -> grid.GridConfig:
    return grid.GridConfig(
        symbol="BTCUSDT",
        lower_price=D(40000),
        upper_price=D(70000),
        grid_count=count,
        investment=D(100000),
        direction=direction,
        take_profit_price=D(80000),
        max_drawdown=D("0.3"),
    )


@settings(max_examples=40, deadline=None)
@given(
    count=st.integers(min_value=2, max_value=40),
    direction=st.sampled_from(list(grid.Direction)),
    fills=st.lists(st.integers(min_value=0, max_value=39), max_size=12),
)
def test_grid_state_and_config_survive_json_after_any_fills(
    count: int, direction: grid.Direction, fills: list[int]
) -> None:
    config = _config(count, direction)
    strategy = grid.GRID
    assert strategy.config_from_json(json.loads(json.dumps(strategy.config_to_json(config)))) == config
    state, intents = strategy.initial_state(config, BTC, D(54000))
    by_interval = {intent.interval: intent for intent in intents}
    for k in fills:
        intent = by_interval.get(k % count)
        if intent is None:
            continue
        fill = StrategyFill(
            intent.interval, intent.cycle, intent.side, intent.price, intent.quantity, D(0), "USDT"
        )
        decision = strategy.apply_fills(state, [fill], BTC, config, base_available=D(1000))
        state = decision.state
        by_interval.update({placed.interval: placed for placed in decision.place})
        text = json.dumps(strategy.state_to_json(state))  # plain JSON: no Decimal leaks through
        assert strategy.state_from_json(json.loads(text)) == state
    assert strategy.state_from_json(json.loads(json.dumps(strategy.state_to_json(state)))) == state


def test_the_grid_start_trade_and_exit_rules_through_the_protocol() -> None:
    config = _config(10, grid.Direction.LONG)
    trade = grid.GRID.start_trade(config, BTC, D(54000))
    sizing = grid.size_grid(config, BTC, D(54000), grid.quantity_for_investment(config, BTC, D(54000)))
    assert trade == StartTrade(Side.BUY, sizing.base_to_buy)
    assert grid.GRID.watches_price(config)
    assert grid.GRID.exit_reason(config, D(81000), None) is ExitReason.TAKE_PROFIT
    assert grid.GRID.exit_action(config, ExitReason.TAKE_PROFIT) is ExitAction.SELL_BASE
    assert grid.GRID.closes_trip(config, Side.SELL, True)
    assert not grid.GRID.closes_trip(config, Side.SELL, False)
    short = grid.GRID.start_trade(_config(10, grid.Direction.SHORT), BTC, D(54000))
    assert short.side is Side.SELL
    assert short.committed_base > short.quantity


# A second strategy, through the real engine --------------------------------------------------


@dataclass(frozen=True)
class OnceConfig:
    symbol: str
    investment: Decimal
    buy_price: Decimal
    quantity: Decimal


@dataclass(frozen=True)
class OnceState:
    phase: str  # "buying", "selling", "done"
    sell_price: Decimal | None = None


class BuyOnceSellHigher:
    """Buy once at a limit; when it fills, sell what it bought 1% higher. Nothing more."""

    name = "buy_once"
    label = "buy-once bot"
    replans = False
    checks_funds = False

    def config_from_json(self, data: Json) -> OnceConfig:
        return OnceConfig(data["symbol"], D(data["investment"]), D(data["buy_price"]), D(data["quantity"]))

    def config_to_json(self, config: OnceConfig) -> Json:
        return {k: str(v) for k, v in config.__dict__.items()}

    def investment(self, config: OnceConfig) -> Decimal:
        return config.investment

    def validate(self, config: OnceConfig, instrument: Instrument, price: Decimal, venue: str) -> None:
        if config.buy_price >= price:
            raise grid.ConfigError({"buy_price": ["Buy below the price."]})

    def funds_needed(self, config: OnceConfig, instrument: Instrument, price: Decimal) -> dict[str, Decimal]:
        return {instrument.quote: config.buy_price * config.quantity}

    def preview(self, config: OnceConfig, instrument: Instrument, price: Decimal) -> Any:
        return {"buy": config.buy_price}

    def state_to_json(self, state: OnceState) -> Json:
        return {
            "phase": state.phase,
            "sell_price": None if state.sell_price is None else str(state.sell_price),
        }

    def state_from_json(self, data: Json) -> OnceState:
        return OnceState(data["phase"], None if data["sell_price"] is None else D(data["sell_price"]))

    def start_wait(self, config: OnceConfig, price: Decimal, price_when_created: Decimal) -> str | None:
        return None

    def start_trade(self, config: OnceConfig, instrument: Instrument, price: Decimal) -> StartTrade:
        return StartTrade(Side.BUY, D(0))

    def initial_state(
        self, config: OnceConfig, instrument: Instrument, price: Decimal
    ) -> tuple[OnceState, tuple[OrderIntent, ...]]:
        return OnceState("buying"), (OrderIntent(0, 0, Side.BUY, config.buy_price, config.quantity),)

    def opening_allocations(self, state: OnceState) -> tuple[tuple[str, Decimal], ...]:
        return ()

    def apply_fills(
        self,
        state: OnceState,
        fills: Sequence[StrategyFill],
        instrument: Instrument,
        config: OnceConfig,
        *,
        base_available: Decimal,
    ) -> Decision[OnceState]:
        place: list[OrderIntent] = []
        for fill in fills:
            if fill.side is Side.BUY and state.phase == "buying":
                price = instrument.round_price(fill.price * D("1.01"), ROUND_UP)
                quantity = instrument.round_quantity(
                    min(base_available, fill.quantity - fill.fee), ROUND_DOWN
                )
                state = OnceState("selling", price)
                place.append(OrderIntent(1, 0, Side.SELL, price, quantity))
            elif fill.side is Side.SELL and state.phase == "selling":
                state = OnceState("done", state.sell_price)
        return Decision(state, tuple(place))

    def funds_to_place(
        self, state: OnceState, key: OrderKey, config: OnceConfig, instrument: Instrument
    ) -> dict[str, Decimal]:
        return {}

    def on_refused(
        self, state: OnceState, key: OrderKey, reason: str, config: OnceConfig, instrument: Instrument
    ) -> Decision[OnceState] | None:
        return None

    def open_orders(self, state: OnceState) -> frozenset[OrderKey] | None:
        return None

    def watches_price(self, config: OnceConfig) -> bool:
        return False

    def on_price(
        self, state: OnceState, price: Decimal, instrument: Instrument, config: OnceConfig
    ) -> Decision[OnceState] | None:
        return None

    def exit_reason(self, config: OnceConfig, price: Decimal, equity: Decimal | None) -> ExitReason | None:
        return None

    def exit_action(self, config: OnceConfig, reason: ExitReason) -> ExitAction:
        return ExitAction.KEEP_BASE

    def ledger_lot(self, slot: int) -> str:
        return "once"

    def leverage(self, config: OnceConfig) -> None:
        return None  # spot

    def closes_trip(self, config: OnceConfig, side: Side, complete: bool) -> bool:
        return complete and side is Side.SELL

    def milestones(self, config: OnceConfig, before: OnceState, after: OnceState) -> tuple[Milestone, ...]:
        return ()


@pytest.fixture
def buy_once() -> Iterator[BuyOnceSellHigher]:
    strategy = BuyOnceSellHigher()
    assert isinstance(strategy, Strategy)
    registry.register(strategy)
    yield strategy
    registry.unregister(strategy.name)


def test_a_second_strategy_runs_through_the_engine_from_start_to_stop(
    paper_bot: Bot, buy_once: BuyOnceSellHigher
) -> None:
    config = OnceConfig("BTCUSDT", D(600), D(53000), D("0.01"))
    Bot.objects.filter(pk=paper_bot.pk).update(strategy="buy_once", config=buy_once.config_to_json(config))
    paper_bot.refresh_from_db()
    assert isinstance(paper_bot.strategy_config, OnceConfig)

    actions.do_start_bot(paper_bot)
    for _ in range(2):  # the start (nothing to trade), then the plan laid out and sent
        assert engine.run_tick(paper_bot.pk)
    paper_bot.refresh_from_db()
    assert paper_bot.status == BotStatus.RUNNING
    assert paper_bot.state == {"phase": "buying", "sell_price": None}
    [buy] = venue(paper_bot).open_orders("BTCUSDT")
    assert (buy.side, buy.price, buy.quantity) == (Side.BUY, D(53000), D("0.01"))
    assert buy.client_order_id == f"gw{paper_bot.pk}r{paper_bot.run}-0-0b"

    market.set_price("BTCUSDT", D(52900))  # the buy fills
    assert engine.run_tick(paper_bot.pk)  # booked, and its sale at +1% committed and sent
    paper_bot.refresh_from_db()
    assert paper_bot.state is not None
    assert paper_bot.state["phase"] == "selling"
    assert D(paper_bot.state["sell_price"]) == D(53530)
    [sell] = venue(paper_bot).open_orders("BTCUSDT")
    assert (sell.side, sell.price, sell.quantity) == (Side.SELL, D(53530), D("0.00999"))

    market.set_price("BTCUSDT", D(53600))  # the sale fills
    assert engine.run_tick(paper_bot.pk)
    paper_bot.refresh_from_db()
    assert paper_bot.state is not None
    assert paper_bot.state["phase"] == "done"
    books = paper_bot.books
    assert books is not None
    assert books.round_trips == 1
    assert books.base_in("once") == 0
    # Bought 0.01 at 53000 (fee 0.00001 BTC), sold 0.00999 at 53530 (fee 0.1% in USDT).
    assert books.quote == D(600) - D(530) + D("0.00999") * D(53530) * (1 - D("0.001"))
    assert not venue(paper_bot).open_orders("BTCUSDT")

    actions.do_stop_bot(paper_bot)
    for _ in range(3):
        if not engine.run_tick(paper_bot.pk):
            break
    paper_bot.refresh_from_db()
    assert paper_bot.status == BotStatus.STOPPED
    assert set(Order.objects.filter(bot=paper_bot).values_list("status", flat=True)) == {OrderStatus.FILLED}


def test_grid_config_fixture_is_the_grid_default(paper_bot: Bot) -> None:
    assert paper_bot.strategy == "grid"
    assert paper_bot.runs is grid.GRID
    assert paper_bot.strategy_config == grid_config()


@dataclass(frozen=True)
class ChaseState:
    cycle: int
    buy_price: Decimal


class ChaseTheBuy(BuyOnceSellHigher):
    """A buy 1,000 below the price that follows a rise (cancel-and-replace from `on_price`)."""

    name = "chase_buy"
    label = "chasing bot"
    replans = True

    def state_to_json(self, state: Any) -> Json:
        return {"cycle": state.cycle, "buy_price": str(state.buy_price)}

    def state_from_json(self, data: Json) -> Any:
        return ChaseState(data["cycle"], D(data["buy_price"]))

    def initial_state(self, config: OnceConfig, instrument: Instrument, price: Decimal) -> Any:
        state = ChaseState(0, price - 1000)
        return state, (OrderIntent(0, 0, Side.BUY, state.buy_price, config.quantity),)

    def apply_fills(self, state: Any, fills: Sequence[StrategyFill], *args: Any, **kwargs: Any) -> Any:
        return Decision(state)

    def open_orders(self, state: Any) -> frozenset[OrderKey] | None:
        return frozenset({(0, state.cycle)})

    def watches_price(self, config: OnceConfig) -> bool:
        return True

    def on_price(self, state: Any, price: Decimal, instrument: Instrument, config: OnceConfig) -> Any:
        if price - 1000 < state.buy_price + 500:
            return None
        moved = ChaseState(state.cycle + 1, price - 1000)
        intent = OrderIntent(0, moved.cycle, Side.BUY, moved.buy_price, config.quantity)
        return Decision(moved, (intent,), cancel=((0, state.cycle),))


def test_cancel_and_replace_from_on_price_moves_the_order_through_the_engine(paper_bot: Bot) -> None:
    strategy = ChaseTheBuy()
    registry.register(strategy)
    try:
        config = OnceConfig("BTCUSDT", D(600), D(1), D("0.01"))
        Bot.objects.filter(pk=paper_bot.pk).update(
            strategy=strategy.name, config=strategy.config_to_json(config)
        )
        actions.do_start_bot(paper_bot)
        for _ in range(2):
            assert engine.run_tick(paper_bot.pk)
        [first] = venue(paper_bot).open_orders("BTCUSDT")
        assert first.price == D(53000)

        market.set_price("BTCUSDT", D(55000))
        assert engine.run_tick(paper_bot.pk)
        [moved] = venue(paper_bot).open_orders("BTCUSDT")
        assert (moved.price, moved.client_order_id) == (D(54000), f"gw{paper_bot.pk}r{paper_bot.run}-0-1b")
        old = Order.objects.get(bot=paper_bot, client_order_id=first.client_order_id)
        assert old.status == OrderStatus.CANCELLED

        assert engine.run_tick(paper_bot.pk)  # a quiet tick: nothing more moves
        assert len(venue(paper_bot).open_orders("BTCUSDT")) == 1
    finally:
        registry.unregister(strategy.name)
