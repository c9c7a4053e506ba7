"""Filters for the daily summary mail, whose figures arrive as decimal strings in its payload."""

from __future__ import annotations

from django import template

from notifications.summary import signed_text

register = template.Library()


@register.filter
def signed_pnl(value: str | None) -> str:
    return signed_text(value)
