"""Numbers as traders read them (by the rule of trading.numbers): the instrument's precision,
signs and colours for PnL.

{% load money %}
{{ order.price|amount:instrument.tick_size }}   → 54,000.0
{{ fill.quantity|amount:instrument.quantity_step }}
{{ summary.roi|percent }}                        → 1.23%
{% pnl summary.total_pnl "0.01" "USDT" %}        → <span class="pnl pnl-up">▲ +12.34 USDT</span>
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import template
from django.utils.html import escape
from django.utils.safestring import mark_safe

from trading import numbers
from trading.numbers import QUOTE_STEP, as_decimal, fixed

register = template.Library()


_decimal = as_decimal


def format_amount(value: Any, step: Any = QUOTE_STEP, *, signed: bool = False) -> str:
    """`value` at `step`'s precision with thousands separators; an empty string for no value."""
    return fixed(value, step, signed=signed)


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
    return numbers.plain(value)


@register.filter
def exact(value: Any) -> str:
    """A stored decimal in full with no separators, for a form's value: 54000.5."""
    return numbers.exact(value)
