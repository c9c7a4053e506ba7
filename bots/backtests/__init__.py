"""Backtests as a product feature: a trader's request, its run on a worker, its stored results.

The simulation itself is `bots.backtest` (pure); this package owns the rows, the checks on a
request, the Celery task and the candle sourcing around it.
"""
