"""A DCA bot's deals as its page shows them: the deal in progress and the ones closed, read
from the strategy's state (bots/strategies/dca.py), which holds every deal's bookkeeping."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from bots.strategies import dca
from config.wording import duration_text

CLOSED_BY = {
    dca.CloseReason.TAKE_PROFIT: "Take profit",
    dca.CloseReason.TRAILING: "Trailing take profit",
    dca.CloseReason.STOP_LOSS: "Stop loss",
    dca.CloseReason.BREAKEVEN: "Breakeven stop",
}


@dataclass(frozen=True)
class PastDeal:
    record: dca.DealRecord
    label: str

    @property
    def closed_at(self) -> datetime | None:
        return datetime.fromisoformat(self.record.closed_at) if self.record.closed_at else None

    @property
    def duration(self) -> str:
        """From the base order to the close, as a person says it: "3 h 15 min"."""
        opened = datetime.fromisoformat(self.record.opened_at) if self.record.opened_at else None
        if opened is None or self.closed_at is None:
            return "—"
        return duration_text(int((self.closed_at - opened).total_seconds()))


@dataclass(frozen=True)
class DealView:
    phase: str | None  # None: never started
    number: int  # deals started
    average_entry: Decimal | None
    take_profit_price: Decimal | None  # the resting order's, or the trailing take-profit's target
    stop_price: Decimal | None
    safety_used: int
    safety_max: int
    order_prices: tuple[Decimal, ...]  # the deal's resting orders
    deals_closed: int
    total_profit: Decimal
    past: tuple[dca.DealRecord, ...]  # newest first
    max_funds: Decimal
    trailing: bool

    @property
    def past_rows(self) -> list[PastDeal]:
        return [PastDeal(record, CLOSED_BY[record.reason]) for record in self.past]

    @property
    def in_deal(self) -> bool:
        return self.phase in (dca.Phase.OPEN, dca.Phase.OPENING, dca.Phase.CLOSING)

    @classmethod
    def of(cls, config: dca.DcaConfig, state: dca.DcaState | None) -> DealView:
        if state is None:
            return cls(
                None,
                0,
                None,
                None,
                None,
                0,
                config.max_safety_orders,
                (),
                0,
                Decimal(0),
                (),
                dca.max_funds(config),
                config.trailing_deviation is not None,
            )
        average = state.average_entry
        tp_order = state.order(config.tp_slot)
        target = tp_order.price if tp_order is not None and tp_order.order_type == "limit" else None
        if target is None and average is not None:
            target = dca.take_profit_price(config, average, state.entry_value)
        return cls(
            phase=state.phase.value,
            number=state.deal,
            average_entry=average,
            take_profit_price=target,
            stop_price=dca.stop_price(state, config),
            safety_used=state.safety_filled,
            safety_max=config.max_safety_orders,
            order_prices=tuple(o.price for o in state.orders if o.order_type == "limit"),
            deals_closed=state.deals_closed,
            total_profit=state.total_profit,
            past=tuple(reversed(state.history)),
            max_funds=dca.max_funds(config),
            trailing=config.trailing_deviation is not None,
        )
