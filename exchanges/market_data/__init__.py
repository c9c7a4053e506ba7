"""Market data: the candle store that backtests and charts read, and how candles get into it."""
