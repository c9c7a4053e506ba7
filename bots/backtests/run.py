"""A backtest's run on a worker: claim the row, read the candles, simulate, store the results.

The claim is a conditional UPDATE (queued -> running), so a message delivered twice runs once.
Progress moves the heartbeat; a row whose worker died stops beating and `requeue_stale` puts it
back in the queue. A cancel is seen at the next progress step and ends the run without results.
Every failure is stored on the row with a reason the trader can read.
"""

from __future__ import annotations

import logging
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from bots.backtest import exact, perpetual
from bots.backtest.deals import DealMetrics, deal_metrics
from bots.backtest.metrics import Drawdown, Metrics, metrics
from bots.backtests.actions import instrument_for, perpetual_for
from bots.backtests.candles import Window, load
from bots.backtests.live import Throttle, publish_progress
from bots.backtests.models import Backtest, BacktestFill, BacktestStatus
from bots.strategies import dca, futures_grid
from bots.strategies.registry import strategy_named
from exchanges.base import Candle, ExchangeError, InsufficientBalance

logger = logging.getLogger(__name__)

# A running backtest beats at each percent of its candles; one silent this long lost its worker.
STALE_AFTER = timedelta(minutes=5)
# The equity series is stored thinned to at most this many points, the last one always kept.
EQUITY_POINTS = 1000
LOADED, SIMULATED = 5, 95  # percent: candles read, simulation over
FILL_BATCH = 1000
FUNDING_ASSUMED = "assumed"  # no funding history ships: the rate is a constant (perpetual.py)


class Cancelled(Exception):
    pass


def claim(backtest_id: int) -> Backtest | None:
    now = timezone.now()
    claimed = Backtest.objects.filter(pk=backtest_id, status=BacktestStatus.QUEUED).update(
        status=BacktestStatus.RUNNING, started_at=now, heartbeat_at=now, progress=0
    )
    return Backtest.objects.get(pk=backtest_id) if claimed else None


def run(backtest_id: int) -> None:
    backtest = claim(backtest_id)
    if backtest is None:
        return  # already taken, finished or cancelled
    try:
        _simulate_and_store(backtest)
    except Cancelled:
        return
    except InsufficientBalance as exc:
        _fail(backtest, _short_of_funds(backtest, exc))
    except (ValueError, ExchangeError) as exc:
        # The strategy's and the simulated venue's refusals are written for traders.
        _fail(backtest, str(exc) or type(exc).__name__)
    except Exception:
        logger.exception("Backtest %s failed", backtest.pk)
        _fail(backtest, "The backtest stopped on an internal error; it has been logged for the developers.")


def _short_of_funds(backtest: Backtest, exc: InsufficientBalance) -> str:
    if backtest.strategy != dca.DCA.name:
        return str(exc)
    # The simulated account holds what one deal may spend; losing deals leave less than that.
    return (
        f"The DCA bot ran out of funds for its next order ({exc}) The backtest gives it the most one "
        "deal can spend (its base order and every safety order); deals that lose, to fees or a stop "
        "loss, leave less than the next deal needs, and the live bot would stop there too."
    )


def _simulate_and_store(backtest: Backtest) -> None:
    if backtest.strategy == futures_grid.NAME:
        _simulate_futures(backtest)
        return
    config = strategy_named(backtest.strategy).config_from_json(backtest.config)
    instrument = instrument_for(backtest.symbol)
    if instrument is None:
        raise ValueError(f"{backtest.symbol} can no longer be backtested: its market is unknown.")
    candles = _candles(backtest)
    throttle = Throttle()
    _beat(backtest, LOADED, 0, throttle, candles=len(candles))
    result = exact.run(
        config,
        instrument,
        candles,
        progress=lambda done, total: _step(backtest, done, total, throttle),
        strategy=backtest.strategy,
    )
    _beat(backtest, SIMULATED, len(candles), throttle)
    _store(backtest, result, len(candles))
    publish_progress(backtest.owner_id, "backtest", backtest.pk)  # the results, after their commit


def _simulate_futures(backtest: Backtest) -> None:
    """A futures grid on the symbol's perpetual, priced by the window's stored candles."""
    config = futures_grid.config_from_json(backtest.config)
    market = perpetual_for(backtest.symbol)
    candles = _candles(backtest)
    throttle = Throttle()
    _beat(backtest, LOADED, 0, throttle, candles=len(candles))
    result = perpetual.run(
        config, market, candles, progress=lambda done, total: _step(backtest, done, total, throttle)
    )
    _beat(backtest, SIMULATED, len(candles), throttle)
    _store_futures(backtest, result, len(candles))
    publish_progress(backtest.owner_id, "backtest", backtest.pk)


def _candles(backtest: Backtest) -> list[Candle]:
    window = Window.of(backtest.interval, backtest.start, backtest.end)
    candles = load(backtest.venue, backtest.symbol, window)
    if not candles:
        raise ValueError(
            f"No {backtest.symbol} {backtest.interval} candles are stored in the window any more."
        )
    return candles


def _step(backtest: Backtest, done: int, total: int, throttle: Throttle) -> None:
    percent = LOADED + (SIMULATED - LOADED) * done // total
    if percent != backtest.progress:
        _beat(backtest, percent, done, throttle)


def _beat(backtest: Backtest, percent: int, done: int, throttle: Throttle, **changes: Any) -> None:
    """Progress and heartbeat, only while the row is still ours to run; the page hears of it at
    most every Throttle's interval or step, so a fast run does not flood its socket."""
    updated = Backtest.objects.filter(pk=backtest.pk, status=BacktestStatus.RUNNING).update(
        progress=percent, candles_done=done, heartbeat_at=timezone.now(), **changes
    )
    if not updated:
        raise Cancelled
    backtest.progress = percent
    if throttle.due(percent):
        publish_progress(backtest.owner_id, "backtest", backtest.pk)


def _finish(backtest: Backtest, candle_count: int, body: dict[str, Any], curve: list[dict[str, str]]) -> None:
    finished = Backtest.objects.filter(pk=backtest.pk, status=BacktestStatus.RUNNING).update(
        status=BacktestStatus.DONE,
        progress=100,
        candles=candle_count,
        candles_done=candle_count,
        metrics=body,
        equity=curve,
        finished_at=timezone.now(),
        heartbeat_at=timezone.now(),
    )
    if not finished:
        raise Cancelled  # cancelled while the results were being computed


def _store_futures(backtest: Backtest, result: perpetual.Result, candle_count: int) -> None:
    """As a grid's, fees in USDT; funding and the liquidation (which has no fill, as on the paper
    venue) are in the figures' `futures`."""
    with transaction.atomic():
        _finish(backtest, candle_count, futures_metrics_json(result), equity_json(result.equity_curve))
        quote = result.perpetual.instrument.quote
        BacktestFill.objects.bulk_create(
            (
                BacktestFill(
                    backtest_id=backtest.pk,
                    time=fill.time,
                    leg=fill.leg,
                    side=fill.side.value,
                    price=fill.price,
                    quantity=fill.quantity,
                    fee=fill.fee,
                    fee_asset=quote,
                    is_maker=fill.is_maker,
                    interval=fill.interval,
                    cycle=0,
                )
                for fill in result.fills
            ),
            batch_size=FILL_BATCH,
        )


def _store(backtest: Backtest, result: exact.Result, candle_count: int) -> None:
    with transaction.atomic():
        _finish(
            backtest, candle_count, metrics_json(metrics(result), result), equity_json(result.equity_curve)
        )
        BacktestFill.objects.bulk_create(
            (
                BacktestFill(
                    backtest_id=backtest.pk,
                    time=fill.time,
                    leg=fill.leg,
                    side=fill.side.value,
                    price=fill.price,
                    quantity=fill.quantity,
                    fee=fill.fee,
                    fee_asset=fill.fee_asset,
                    is_maker=fill.is_maker,
                    interval=fill.interval,
                    cycle=fill.cycle,
                )
                for fill in result.fills
            ),
            batch_size=FILL_BATCH,
        )


def _fail(backtest: Backtest, reason: str) -> None:
    if Backtest.objects.filter(pk=backtest.pk, status=BacktestStatus.RUNNING).update(
        status=BacktestStatus.FAILED, error=reason, finished_at=timezone.now()
    ):
        publish_progress(backtest.owner_id, "backtest", backtest.pk)


def requeue_stale(now: datetime | None = None) -> list[int]:
    """Running backtests whose worker stopped beating, back to the queue; their ids."""
    cutoff = (now or timezone.now()) - STALE_AFTER
    stale = list(
        Backtest.objects.filter(status=BacktestStatus.RUNNING, heartbeat_at__lt=cutoff).values_list(
            "pk", flat=True
        )
    )
    requeued = []
    for backtest_id in stale:
        if Backtest.objects.filter(
            pk=backtest_id, status=BacktestStatus.RUNNING, heartbeat_at__lt=cutoff
        ).update(status=BacktestStatus.QUEUED, progress=0, candles_done=0):
            requeued.append(backtest_id)
    return requeued


# JSON -----------------------------------------------------------------------------


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return _time(value)
    if isinstance(value, Drawdown):
        return {field.name: _json_value(getattr(value, field.name)) for field in fields(value)}
    return value


def _time(moment: datetime) -> str:
    """As the API writes every time: ISO 8601 in UTC with a Z."""
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def metrics_json(figures: Metrics, result: exact.Result) -> dict[str, Any]:
    """The figures, decimals as strings, with the run's start and final equity beside them;
    a DCA run's deal figures under `deals`."""
    body = {field.name: _json_value(getattr(figures, field.name)) for field in fields(figures)}
    body.update(
        investment=str(result.investment),
        equity=str(result.equity),
        started_at=_json_value(result.started_at),
        start_price=_json_value(result.start_price),
        first_price=str(result.first_price),
        last_price=str(result.last_price),
    )
    if isinstance(result.config, dca.DcaConfig):
        body["deals"] = deals_json(deal_metrics(result))
    body["stopped_early"] = stopped_early_json(result)
    return body


def futures_metrics_json(result: perpetual.Result) -> dict[str, Any]:
    """The figures that apply to a futures grid, with its funding and liquidation under `futures`."""
    figures = metrics(result)
    body = {field.name: _json_value(getattr(figures, field.name)) for field in fields(figures)}
    body.update(
        investment=str(result.investment),
        equity=str(result.equity),
        started_at=_json_value(result.started_at),
        start_price=_json_value(result.start_price),
        first_price=str(result.first_price),
        last_price=str(result.last_price),
        stopped_early=None,
        futures=futures_json(result),
    )
    return body


def futures_json(result: perpetual.Result) -> dict[str, Any]:
    liquidation = result.liquidation
    return {
        "mode": result.config.mode.value,
        "leverage": str(result.config.leverage),
        "quantity_per_order": str(result.quantity_per_order),
        "fees": str(result.fees),
        "funding_paid": str(result.funding_paid),
        "funding_received": str(result.funding_received),
        "funding_rate_assumed": str(result.funding_rate),
        "funding_source": FUNDING_ASSUMED,
        "funding_settlements": len(result.fundings),
        "liquidated_at": _time(liquidation.time) if liquidation else None,
        "liquidation_price": str(liquidation.price) if liquidation else None,
        "bankruptcy_price": str(liquidation.bankruptcy_price) if liquidation else None,
        "margin_lost": str(result.liquidation_loss),
        "peak_notional": str(result.peak_notional),
        "max_leverage_used": str(result.max_leverage_used),
        "position": {
            "side": result.position_side.value if result.position_side else None,
            "size": str(result.position_size),
            "margin": str(result.position_margin),
        },
    }


def stopped_early_json(result: exact.Result) -> dict[str, Any] | None:
    """Where the live bot would have stopped in error (a deal it could no longer fund), with why:
    the run's figures are those of that moment."""
    if result.halted is None:
        return None
    return {
        "reason": result.halted,
        "time": _time(result.equity_curve[-1].time),
        "price": str(result.last_price),
    }


def deals_json(deals: DealMetrics) -> dict[str, Any]:
    """Durations in whole seconds (rounded down; candles open on whole minutes, so only an
    average can hold a fraction); the open deal, if any, with its unrealised PnL at the last price."""
    return {
        "deals_closed": deals.deals_closed,
        "average_duration": _seconds(deals.average_duration),
        "max_duration": _seconds(deals.max_duration),
        "max_safety_orders_used": deals.max_safety_orders_used,
        "max_floating_drawdown": str(deals.max_floating_drawdown),
        "open_deal": {
            "unrealized": str(deals.open_unrealized),
            "safety_orders_used": deals.open_safety_orders_used,
        }
        if deals.open_deal
        else None,
    }


def _seconds(duration: timedelta | None) -> int | None:
    return None if duration is None else duration // timedelta(seconds=1)


def equity_json(curve: tuple[exact.EquityPoint, ...]) -> list[dict[str, str]]:
    if not curve:
        return []
    every = max(1, -(-(len(curve) - 1) // (EQUITY_POINTS - 1)))
    points = [*curve[:-1][::every], curve[-1]]
    return [
        {
            "time": _time(point.time),
            "price": str(point.price),
            "equity": str(point.equity),
            "unrealized": str(point.unrealized),
        }
        for point in points
    ]
