"""Model instances from rows of SQL written once: for the hot paths where building and compiling
a queryset costs more than running it (a tick's claim, a live render's bot read)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connection
from django.db.models import Model

M = TypeVar("M", bound=Model)


def from_row(model: type[M], fields: Sequence[Any], row: Sequence[Any]) -> M:
    """`model` from `row`, the values of `fields` in order, converted as the ORM would (JSON
    text to objects, and so on)."""
    values = list(row)
    for index, field in enumerate(fields):
        for convert in field.get_db_converters(connection):
            values[index] = convert(values[index], field.cached_col, connection)
    return model.from_db(connection.alias, [field.attname for field in fields], values)
