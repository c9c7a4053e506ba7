"""The backtester: the live grid strategy driven over candles through a simulated venue.

Pure Python, no Django: candles come in as values, whoever reads them from a file or the store.
"""
