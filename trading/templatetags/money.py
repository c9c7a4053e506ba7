"""Numbers as traders read them: the instrument's precision, signs and colours for PnL.

{% load money %}
{{ order.price|amount:instrument.tick_size }}   → 54,000.0
{{ fill.quantity|amount:instrument.quantity_step }}
{{ summary.roi|percent }}                        → 1.23%
{% pnl summary.total_pnl "0.01" "USDT" %}        → <span class="pnl pnl-up">▲ +12.34 USDT</span>
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

register = template.Library()

QUOTE_STEP = Decimal("0.01")


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    except InvalidOperation:
        return None


def format_amount(value: Any, step: Any = QUOTE_STEP, *, signed: bool = False) -> str:
    """`value` at `step`'s precision with thousands separators; an empty string for no value."""
    number = _decimal(value)
    if number is None:
        return ""
    places, quantum = _precision(type(step).__name__, step)
    rounded = number.quantize(quantum, rounding=ROUND_HALF_EVEN)
    if rounded == 0:
        rounded = abs(rounded)  # never show "-0.00"
    return f"{rounded:+,.{places}f}" if signed else f"{rounded:,.{places}f}"


@lru_cache(maxsize=128)
def _precision(kind: str, step: Any) -> tuple[int, Decimal]:
    """The places `step` shows and its quantum. A page repeats a few steps on every row; the
    type is part of the key, so that a float and a Decimal that compare equal stay apart."""
    exponent = (_decimal(step) or QUOTE_STEP).normalize().as_tuple().exponent
    places = max(0, -exponent) if isinstance(exponent, int) else 2
    return places, Decimal(1).scaleb(-places)


@register.filter
def amount(value: Any, step: Any = QUOTE_STEP) -> str:
    return format_amount(value, step)


@register.filter
def percent(fraction: Any, places: int = 2) -> str:
    number = _decimal(fraction)
    if number is None:
        return "—"
    return format_amount(number * 100, Decimal(1).scaleb(-int(places)), signed=True) + "%"


def pnl_direction(value: Any) -> str:
    number = _decimal(value)
    if number is None or number.quantize(QUOTE_STEP) == 0:
        return "flat"
    return "up" if number > 0 else "down"


NO_PNL = mark_safe('<span class="pnl pnl-none">—</span>')


@register.simple_tag
def pnl(value: Any, step: Any = QUOTE_STEP, unit: str = "") -> str:
    """A signed amount, coloured by CSS and marked with an arrow so it reads without colour."""
    number = _decimal(value)
    if number is None:
        return NO_PNL
    direction = pnl_direction(number)
    arrow = {"up": "▲", "down": "▼", "flat": "•"}[direction]
    label = {"up": "gain", "down": "loss", "flat": "no change"}[direction]
    text = format_amount(number, step, signed=direction != "flat")
    # What format_html would write, without escaping what cannot need it (the dashboard has
    # one per bot): the constants above and a formatted number; only the unit is text.
    suffix = escape(f" {unit}") if unit else ""
    mark = f'<span class="pnl-mark" aria-label="{label}">{arrow}</span>'
    return mark_safe(f'<span class="pnl pnl-{direction}">{mark} {text}{suffix}</span>')  # noqa: S308


@register.filter
def plain(value: Any) -> str:
    """A stored decimal without its padding zeros and never in exponent form: 54,000 or 0.000125."""
    number = _decimal(value)
    if number is None:
        return ""
    normalized = number.normalize()
    if normalized == 0:
        return "0"
    return f"{normalized:,f}"
