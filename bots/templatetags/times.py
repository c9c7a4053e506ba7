"""Times as the bot pages show them, in the active time zone.

{% load times %}
{% local_time fill.time "j M H:i:s" %}  → <time datetime="2026-11-21T17:10:05+01:00">21 Nov 17:10:05</time>

The same HTML as `<time datetime="{{ t|date:'c' }}">{{ t|date:"j M H:i:s" }}</time>`, at a
fraction of the cost: the pages show one per table row, and `|date` parses its format on
every call. Formats other than the ones below go through Django's own formatter.
"""

from __future__ import annotations

from datetime import datetime

from django import template
from django.conf import settings
from django.utils import dateformat, timezone
from django.utils.dates import MONTHS_3
from django.utils.html import format_html
from django.utils.safestring import SafeString

register = template.Library()


def short_label(local: datetime, fmt: str) -> str:
    """`local` as `dateformat.format(local, fmt)` writes it."""
    if fmt == "j M H:i":
        return f"{local.day} {MONTHS_3[local.month].title()} {local:%H:%M}"
    if fmt == "j M H:i:s":
        return f"{local.day} {MONTHS_3[local.month].title()} {local:%H:%M:%S}"
    return dateformat.format(local, fmt)


@register.simple_tag
def local_time(value: datetime | None, fmt: str) -> SafeString | str:
    """A `<time>` element for `value`: machine-readable in its attribute, `fmt` for people."""
    if value is None:
        return ""
    # The conversion the template engine gives `|date` (template_localtime).
    local = timezone.localtime(value) if settings.USE_TZ and timezone.is_aware(value) else value
    return format_html('<time datetime="{}">{}</time>', local.isoformat(), short_label(local, fmt))
