"""Small pieces of wording every app's messages share."""

from __future__ import annotations

import math


def wait_phrase(seconds: float) -> str:
    """How long to wait, as a person says it: "1 second", "5 seconds", "2 minutes"."""
    whole = max(1, math.ceil(seconds))
    if whole < 60:
        return f"{whole} second" if whole == 1 else f"{whole} seconds"
    minutes = math.ceil(whole / 60)
    return f"{minutes} minute" if minutes == 1 else f"{minutes} minutes"
