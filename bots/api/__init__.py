"""Bots in the scripts API (/api/v1/bots/): preview, create, edit, run, stop, and their records."""
