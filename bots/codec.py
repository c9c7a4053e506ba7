"""Strategy config, strategy state and ledger to and from JSON. Decimals travel as strings."""

from __future__ import annotations

from dataclasses import asdict
from decimal import Decimal
from typing import Any

from bots.strategies.grid import Direction, ExitAction, GridConfig, GridState, Interval, Spacing
from exchanges.base import Side
from trading.ledger import Ledger, Lot

Json = dict[str, Any]

_CONFIG_DECIMALS = (
    "lower_price",
    "upper_price",
    "investment",
    "trigger_price",
    "take_profit_price",
    "stop_loss_price",
    "max_drawdown",
)


def _dec(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value))


def config_to_json(config: GridConfig) -> Json:
    return {
        key: (str(value) if isinstance(value, Decimal) else value) for key, value in asdict(config).items()
    }


def config_from_json(data: Json) -> GridConfig:
    values = dict(data)
    for key in _CONFIG_DECIMALS:
        values[key] = _dec(values.get(key))
    values["spacing"] = Spacing(values.get("spacing", Spacing.ARITHMETIC))
    values["direction"] = Direction(values.get("direction", Direction.LONG))
    values["take_profit_action"] = ExitAction(values.get("take_profit_action", ExitAction.SELL_BASE))
    values["stop_loss_action"] = ExitAction(values.get("stop_loss_action", ExitAction.SELL_BASE))
    values["grid_count"] = int(values["grid_count"])
    return GridConfig(**values)


def state_to_json(state: GridState) -> Json:
    return {
        "lines": [str(line) for line in state.lines],
        "quantity_per_order": str(state.quantity_per_order),
        "intervals": [
            {
                "index": i.index,
                "side": i.side.value,
                "price": str(i.price),
                "quantity": str(i.quantity),
                "filled": str(i.filled),
                "cycle": i.cycle,
                "base_held": str(i.base_held),
                "quote_held": str(i.quote_held),
            }
            for i in state.intervals
        ],
    }


def state_from_json(data: Json) -> GridState:
    return GridState(
        lines=tuple(Decimal(line) for line in data["lines"]),
        quantity_per_order=Decimal(data["quantity_per_order"]),
        intervals=tuple(
            Interval(
                index=i["index"],
                side=Side(i["side"]),
                price=Decimal(i["price"]),
                quantity=Decimal(i["quantity"]),
                filled=Decimal(i["filled"]),
                cycle=i["cycle"],
                base_held=Decimal(i["base_held"]),
                quote_held=Decimal(i["quote_held"]),
            )
            for i in data["intervals"]
        ),
    )


def ledger_to_json(ledger: Ledger) -> Json:
    return {
        "base_asset": ledger.base_asset,
        "quote_asset": ledger.quote_asset,
        "investment": str(ledger.investment),
        "quote": str(ledger.quote),
        "lots": {
            key: {"base": str(lot.base), "cost": str(lot.cost), "trip_profit": str(lot.trip_profit)}
            for key, lot in ledger.lots.items()
        },
        "realized": str(ledger.realized),
        "fees_not_netted": str(ledger.fees_not_netted),
        "fees_by_asset": {asset: str(fee) for asset, fee in ledger.fees_by_asset.items()},
        "buys": ledger.buys,
        "sells": ledger.sells,
        "round_trips": ledger.round_trips,
        "gross_profit": str(ledger.gross_profit),
        "gross_loss": str(ledger.gross_loss),
    }


def ledger_base_asset(data: Json | None) -> str | None:
    """The base asset stored books count in, without decoding the rest of them."""
    return data["base_asset"] if data else None


def ledger_from_json(data: Json) -> Ledger:
    ledger = Ledger(data["base_asset"], data["quote_asset"], Decimal(data["investment"]))
    ledger.quote = Decimal(data["quote"])
    ledger.lots = {
        key: Lot(Decimal(lot["base"]), Decimal(lot["cost"]), Decimal(lot["trip_profit"]))
        for key, lot in data["lots"].items()
    }
    ledger.realized = Decimal(data["realized"])
    ledger.fees_not_netted = Decimal(data["fees_not_netted"])
    ledger.fees_by_asset = {asset: Decimal(fee) for asset, fee in data["fees_by_asset"].items()}
    ledger.buys, ledger.sells, ledger.round_trips = data["buys"], data["sells"], data["round_trips"]
    ledger.gross_profit = Decimal(data["gross_profit"])
    ledger.gross_loss = Decimal(data["gross_loss"])
    return ledger
