"""Strategy config, strategy state and ledger to and from JSON. Decimals travel as strings."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from bots.strategies import grid
from bots.strategies.grid import GridConfig, GridState
from trading.ledger import Ledger, Lot
from trading.positions import PositionLedger

Json = dict[str, Any]


# The grid's own codec (bots/strategies/grid.py), under the names its callers import; another
# strategy's config and state go through its own `config_from_json` / `state_from_json`.
def config_to_json(config: GridConfig) -> Json:
    return grid.config_to_json(config)


def config_from_json(data: Json) -> GridConfig:
    return grid.config_from_json(data)


def state_to_json(state: GridState) -> Json:
    return grid.state_to_json(state)


def state_from_json(data: Json) -> GridState:
    return grid.state_from_json(data)


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
        **(_position_to_json(ledger) if isinstance(ledger, PositionLedger) else {}),
    }


def _position_to_json(ledger: PositionLedger) -> Json:
    return {
        "position": True,
        "funding": str(ledger.funding),
        "funding_cursor": _optional_time(ledger.funding_cursor),
        "funding_ids": list(ledger.funding_ids),
        "funding_checked_at": _optional_time(ledger.funding_checked_at),
        "bankruptcy_seen": _optional(ledger.bankruptcy_seen),
    }


def _optional(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _optional_decimal(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _optional_time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _time_or_none(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


def ledger_base_asset(data: Json | None) -> str | None:
    """The base asset stored books count in, without decoding the rest of them."""
    return data["base_asset"] if data else None


def ledger_from_json(data: Json) -> Ledger:
    """The books as stored: a perpetual's (marked "position") come back as a `PositionLedger`."""
    books = PositionLedger if data.get("position") else Ledger
    ledger = books(data["base_asset"], data["quote_asset"], Decimal(data["investment"]))
    if isinstance(ledger, PositionLedger):
        ledger.funding = Decimal(data["funding"])
        ledger.funding_cursor = _time_or_none(data["funding_cursor"])
        ledger.funding_ids = tuple(data["funding_ids"])
        ledger.funding_checked_at = _time_or_none(data["funding_checked_at"])
        ledger.bankruptcy_seen = _optional_decimal(data.get("bankruptcy_seen"))
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
