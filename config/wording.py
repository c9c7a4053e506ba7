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


def wait_in_words(seconds: float) -> str:
    """A wait that may be shorter than a second, as a person says it: "under a second",
    "5 seconds", "2 minutes" (never "0s")."""
    if seconds < 1:
        return "under a second"
    return wait_phrase(seconds)


def duration_text(seconds: int | None) -> str:
    """Seconds in days, hours and minutes, the two largest units that are not zero; "—" for none."""
    if seconds is None:
        return "—"
    minutes = seconds // 60
    days, hours, mins = minutes // 1440, minutes // 60 % 24, minutes % 60
    parts = [f"{days} d" if days else "", f"{hours} h" if hours else "", f"{mins} min" if mins else ""]
    shown = [part for part in parts if part][:2]
    return " ".join(shown) if shown else f"{seconds} s"
