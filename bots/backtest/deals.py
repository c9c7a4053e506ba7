"""A DCA backtest's own figures, from the deals its final state holds (exact mode keeps the
strategy's state in `Result.state`) and from its equity curve."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from bots.backtest.exact import Result
from bots.strategies import dca


@dataclass(frozen=True)
class DealMetrics:
    deals_closed: int
    average_duration: timedelta | None
    max_duration: timedelta | None
    max_safety_orders_used: int
    max_floating_drawdown: Decimal  # the deepest unrealised loss along the curve, as a positive amount
    open_deal: bool  # a deal still open at the end
    open_unrealized: Decimal  # its unrealised PnL at the last price
    open_safety_orders_used: int = 0  # the open deal's safety orders filled so far


def deal_metrics(result: Result) -> DealMetrics:
    state = result.state
    if state is None and isinstance(result.config, dca.DcaConfig):
        # Its start condition never came: no deal opened, nothing floated.
        return DealMetrics(0, None, None, 0, Decimal(0), False, Decimal(0))
    if not isinstance(state, dca.DcaState):
        raise ValueError("Deal metrics are a DCA backtest's.")
    durations = [
        datetime.fromisoformat(deal.closed_at) - datetime.fromisoformat(deal.opened_at)
        for deal in state.history
        if deal.opened_at and deal.closed_at
    ]
    used = [deal.safety_orders_used for deal in state.history]
    in_deal = state.phase is not dca.Phase.WAITING
    if in_deal:
        used.append(state.safety_filled)
    deepest = min((point.unrealized for point in result.equity_curve), default=Decimal(0))
    return DealMetrics(
        deals_closed=state.deals_closed,
        average_duration=sum(durations, timedelta()) / len(durations) if durations else None,
        max_duration=max(durations) if durations else None,
        max_safety_orders_used=max(used, default=0),
        max_floating_drawdown=max(Decimal(0), -deepest),
        open_deal=in_deal,
        open_unrealized=result.unrealized if in_deal else Decimal(0),
        open_safety_orders_used=state.safety_filled if in_deal else 0,
    )
