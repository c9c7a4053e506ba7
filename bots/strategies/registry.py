"""Which strategies exist, by the name a bot row stores (Bot.strategy). Pure: no Django.

A new strategy is one module implementing bots.strategies.base.Strategy and one `register`
call here; the engine, the backtester's exact mode and the stop path find it by name."""

from __future__ import annotations

from typing import Any, Protocol

from bots.strategies.base import Strategy
from bots.strategies.dca import DCA
from bots.strategies.futures_grid import FUTURES_GRID
from bots.strategies.grid import GRID

DEFAULT = "grid"

_STRATEGIES: dict[str, Strategy[Any, Any]] = {}


class _HasStrategy(Protocol):
    strategy: str


def register(strategy: Strategy[Any, Any]) -> None:
    if strategy.name in _STRATEGIES and _STRATEGIES[strategy.name] is not strategy:
        raise ValueError(f"A strategy named {strategy.name!r} is already registered.")
    _STRATEGIES[strategy.name] = strategy


def unregister(name: str) -> None:
    """Tests register a strategy of their own and take it away again."""
    if name == DEFAULT:
        raise ValueError("The grid strategy cannot be unregistered.")
    _STRATEGIES.pop(name, None)


def strategy_named(name: str) -> Strategy[Any, Any]:
    try:
        return _STRATEGIES[name]
    except KeyError:
        raise LookupError(f"No strategy is named {name!r}.") from None


def strategy_for(bot: _HasStrategy) -> Strategy[Any, Any]:
    """The strategy a bot (or anything with a `strategy` name) runs."""
    return strategy_named(bot.strategy or DEFAULT)


def choices() -> list[tuple[str, str]]:
    """For Bot.strategy's field: the strategies shipped with the product."""
    # The first letter up, the rest as written: "grid" -> "Grid", "DCA" stays "DCA".
    return [(name, strategy.label[:1].upper() + strategy.label[1:]) for name, strategy in _STRATEGIES.items()]


register(GRID)
register(DCA)
register(FUTURES_GRID)
