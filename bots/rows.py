"""Reads for the hot paths where building and compiling a queryset costs more than running it
(a tick's claim, a live render, the dashboard): model instances from rows of SQL written once,
and querysets compiled once per process and run with each call's values."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connection
from django.db.models import Model, QuerySet

M = TypeVar("M", bound=Model)


def from_row(model: type[M], fields: Sequence[Any], row: Sequence[Any]) -> M:
    """`model` from `row`, the values of `fields` in order, converted as the ORM would (JSON
    text to objects, and so on)."""
    values = list(row)
    for index, field in enumerate(fields):
        for convert in field.get_db_converters(connection):
            values[index] = convert(values[index], field.cached_col, connection)
    return model.from_db(connection.alias, [field.attname for field in fields], values)


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    places: tuple[int, ...]  # of each marker among the parameters
    compiler: Any
    converters: dict[int, Any]  # Django's own, e.g. JSON text to objects


Q = TypeVar("Q", bound=Callable[..., "QuerySet[Any, tuple[Any, ...]]"])


class CompiledRows(Generic[Q]):
    """`list(build(*values))` for a `values_list` queryset, compiled once per process.

    `build` is called once with `markers`, stand-ins no real value can equal; each must appear
    exactly once among the compiled parameters (an error otherwise), and every run puts its
    own values in their places. Django's converters still apply. Other databases than
    PostgreSQL build and run the queryset as usual.
    """

    def __init__(self, build: Q, *markers: Any) -> None:
        self.build = build
        self.markers = markers
        self._compiled: _Compiled | None = None

    def rows(self, *values: Any) -> list[tuple[Any, ...]]:
        if connection.vendor != "postgresql":
            return list(self.build(*values))
        compiled = self._compile()
        params = list(compiled.params)
        for place, value in zip(compiled.places, values, strict=True):
            params[place] = value
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            rows = cursor.fetchall()
        if not compiled.converters:
            return rows
        return [tuple(row) for row in compiled.compiler.apply_converters(rows, compiled.converters)]

    def _compile(self) -> _Compiled:
        if self._compiled is None:
            compiler = self.build(*self.markers).query.get_compiler(connection=connection)
            sql, params = compiler.as_sql()
            found = [[n for n, value in enumerate(params) if value == marker] for marker in self.markers]
            if any(len(places) != 1 for places in found):
                raise RuntimeError(f"{self.build.__name__} takes its values at {found}.")
            converters = compiler.get_converters([column for column, _, _ in compiler.select])
            self._compiled = _Compiled(
                sql, tuple(params), tuple(places[0] for places in found), compiler, converters
            )
        return self._compiled
