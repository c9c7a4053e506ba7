"""`{% local_time %}` writes what `<time datetime="{{ t|date:'c' }}">{{ t|date:fmt }}</time>` does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.template import engines
from django.utils import timezone, translation

MOMENTS = [
    datetime(2026, 1, 5, 3, 7, 9, tzinfo=UTC),
    datetime(2026, 3, 29, 0, 59, 59, 123456, tzinfo=UTC),  # Europe changes clocks at 01:00 UTC
    datetime(2026, 3, 29, 1, 0, 0, tzinfo=UTC),
    datetime(2026, 12, 31, 23, 30, tzinfo=UTC),
]
ZONES = ["UTC", "Europe/Berlin", "Asia/Kolkata", "America/St_Johns"]
FORMATS = ["j M H:i", "j M H:i:s", "j M Y H:i T"]


def render(source: str, at: datetime | None) -> str:
    return engines["django"].from_string("{% load times %}" + source).render({"at": at})


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("zone", ZONES)
def test_local_time_matches_the_date_filter(zone: str, fmt: str) -> None:
    expected = f'<time datetime="{{{{ at|date:\'c\' }}}}">{{{{ at|date:"{fmt}" }}}}</time>'
    with timezone.override(zone):
        for at in MOMENTS + [at + timedelta(days=200) for at in MOMENTS]:
            assert render(f'{{% local_time at "{fmt}" %}}', at) == render(expected, at)


def test_local_time_names_months_in_the_active_language() -> None:
    at = datetime(2026, 5, 1, 12, tzinfo=UTC)
    with timezone.override("UTC"), translation.override("de"):
        assert render('{% local_time at "j M H:i" %}', at) == render(
            '<time datetime="{{ at|date:\'c\' }}">{{ at|date:"j M H:i" }}</time>', at
        )


def test_no_time_writes_nothing() -> None:
    assert render('{% local_time at "j M H:i" %}', None) == ""
