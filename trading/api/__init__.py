"""Fills across bots, their filters and CSV export, in the scripts API (/api/v1/fills/)."""
