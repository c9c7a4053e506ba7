"""The one rule for writing and reading prices and amounts. Pure Python: no Django.

Written: a point for decimals, commas between thousands, never an exponent.

    fixed(Decimal("22000.5"))        -> "22,000.50"   (at a step's precision: tables, cards)
    plain(Decimal("22000.500000"))   -> "22,000.5"    (as stored, without padding: messages, ranges)
    exact(Decimal("22000.500000"))   -> "22000.5"     (no separators: form values, files, JSON)

Read (`parse`): what the product prints, and what people type: "22,000", "22 000.5", "22000.5".
A comma is only ever a thousands separator, so "1,5" is refused as ambiguous rather than read
as 15 or 1.5. `static/js/format.js` writes numbers by the same rule for charts and live updates.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

QUOTE_STEP = Decimal("0.01")
# Spaces people and locales put between thousands: plain, no-break, narrow no-break, thin.
_GROUP_SPACES = " \u00a0\u202f\u2009"
_MINUS_SIGNS = "-\u2212"
_NUMBER = re.compile(r"(?P<sign>[+-]?)(?P<whole>\d[\d,]*)?(?:\.(?P<fraction>\d+))?")
_GROUPED = re.compile(r"\d{1,3}(,\d{3})+")


class NumberFormatError(ValueError):
    """Text that is not a number the product can read; the message says how to write it."""


def as_decimal(value: Any) -> Decimal | None:
    """`value` (a Decimal, int, or text as stored) as a Decimal; None for nothing or not a number."""
    if value is None or value == "":
        return None
    if isinstance(value, Decimal):
        return value
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def fixed(
    value: Any, step: Any = QUOTE_STEP, *, signed: bool = False, rounding: str = ROUND_HALF_EVEN
) -> str:
    """`value` at `step`'s precision ("0.01" shows cents), with thousands separators; "" for no value."""
    number = as_decimal(value)
    if number is None:
        return ""
    places, quantum = _precision(type(step).__name__, step)
    rounded = number.quantize(quantum, rounding=rounding)
    if rounded == 0:
        return f"{abs(rounded):,.{places}f}"  # never "-0.00", nor "+0.00": zero has no side
    return f"{rounded:+,.{places}f}" if signed else f"{rounded:,.{places}f}"


@lru_cache(maxsize=128)
def _precision(kind: str, step: Any) -> tuple[int, Decimal]:
    """The places `step` shows and its quantum. A page repeats a few steps on every row; the
    type is part of the key, so that a float and a Decimal that compare equal stay apart."""
    exponent = (as_decimal(step) or QUOTE_STEP).normalize().as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 2
    return places, Decimal(1).scaleb(-places)


def plain(value: Any, *, places: int | None = None) -> str:
    """`value` without its padding zeros, with thousands separators: "54,000", "0.000125".
    With `places`, rounded (half to even) to at most that many decimals first."""
    number = as_decimal(value)
    if number is None:
        return ""
    if places is not None and number.is_finite() and -number.as_tuple().exponent > places:  # type: ignore[operator]
        number = number.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    normalized = number.normalize()
    if normalized == 0:
        return "0"
    return f"{normalized:,f}"


def exact(value: Any) -> str:
    """`value` in full, without padding zeros or separators: "22000.5", for forms and files."""
    number = as_decimal(value)
    if number is None:
        return ""
    normalized = number.normalize()
    return "0" if normalized == 0 else f"{normalized:f}"


def parse(text: str) -> Decimal:
    """The number `text` writes, by the rule above. Raises `NumberFormatError`."""
    cleaned = text.strip()
    for minus in _MINUS_SIGNS[1:]:
        cleaned = cleaned.replace(minus, "-")
    spaced = cleaned
    for space in _GROUP_SPACES:
        spaced = spaced.replace(space, ",")  # a space between thousands reads like a comma
    found = _NUMBER.fullmatch(spaced)
    if not cleaned or found is None or not (found["whole"] or found["fraction"]):
        raise NumberFormatError(f"“{text.strip()}” is not a number: write it like 22,000.5 or 22000.5.")
    whole = found["whole"] or "0"
    if "," in whole:
        if not _GROUPED.fullmatch(whole):
            raise NumberFormatError(
                f"“{text.strip()}” is ambiguous: write decimals with a point (1.5) "
                "and thousands with a comma or a space (1,500 or 1 500)."
            )
        whole = whole.replace(",", "")
    fraction = f".{found['fraction']}" if found["fraction"] else ""
    return Decimal(f"{found['sign']}{whole}{fraction}")  # as written: "22000.50" keeps its places
