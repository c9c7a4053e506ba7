"""Trade history: a trader's fills, filtered, paged by a keyset cursor, and exported as CSV.

Pages never use OFFSET: a cursor names the last row shown by (time, id), and the next page
starts just past it on the `fill_by_bot_time_id` index, so page 2,000
costs what page 1 does and rows arriving meanwhile never shift a page.
"""

from __future__ import annotations

import base64
import binascii
import csv
from collections.abc import AsyncIterator, Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from itertools import islice
from typing import Any

from asgiref.sync import sync_to_async
from django import forms
from django.contrib.postgres.expressions import ArraySubquery
from django.db import connection
from django.db.models import BigIntegerField, Func, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from accounts.models import User
from trading.models import Fill
from trading.numbers import exact

PAGE_SIZE = 50
CSV_BATCH = 1000

CSV_HEADER = (
    "time",
    "bot_id",
    "bot",
    "symbol",
    "side",
    "price",
    "quantity",
    "quote_amount",
    "fee",
    "fee_asset",
    "liquidity",
    "trade_id",
    "client_order_id",
)
CSV_FIELDS = (
    "time",
    "bot_id",
    "bot__name",
    "symbol",
    "side",
    "price",
    "quantity",
    "fee",
    "fee_asset",
    "is_maker",
    "trade_id",
    "order__client_order_id",
)


class FillFilterForm(forms.Form):
    """The history's filters. Bot and symbol choices are the trader's own; a bot id that is
    not the trader's is left for the view to answer with a 404."""

    bot = forms.IntegerField(required=False, min_value=1, widget=forms.Select, label="Bot")
    symbol = forms.ChoiceField(required=False, label="Symbol")
    side = forms.ChoiceField(
        required=False, choices=(("", "Buys and sells"), ("buy", "Buys"), ("sell", "Sells")), label="Side"
    )
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, data: Any, *, bots: Iterable[Any]) -> None:
        super().__init__(data)
        bots = list(bots)
        self.fields["bot"].widget.choices = [("", "All bots"), *((b.pk, b.name) for b in bots)]
        symbols = sorted({b.symbol for b in bots})
        symbol_field = self.fields["symbol"]
        assert isinstance(symbol_field, forms.ChoiceField)
        symbol_field.choices = [("", "All symbols"), *((s, s) for s in symbols)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        start, end = cleaned.get("date_from"), cleaned.get("date_to")
        if start and end and start > end:
            raise forms.ValidationError("“From” is after “To”: swap the dates.")
        return cleaned


def _local_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min), timezone.get_current_timezone())


def _bot_model() -> Any:
    # Bots own fills; trading reaches their model through the relation, never by importing bots.
    return Fill._meta.get_field("bot").related_model


def user_bots(user: User) -> QuerySet[Any]:
    return _bot_model().objects.filter(owner=user).only("pk", "name", "symbol").order_by("name", "pk")


def fill_conditions(filters: dict[str, Any]) -> Q:
    """The cleaned filters as conditions on Fill; dates are whole days in the trader's time zone."""
    conditions = Q()
    if filters.get("bot"):
        conditions &= Q(bot_id=filters["bot"])
    if filters.get("symbol"):
        conditions &= Q(symbol=filters["symbol"])
    if filters.get("side"):
        conditions &= Q(side=filters["side"])
    if filters.get("date_from"):
        conditions &= Q(time__gte=_local_start(filters["date_from"]))
    if filters.get("date_to"):
        conditions &= Q(time__lt=_local_start(filters["date_to"] + timedelta(days=1)))
    return conditions


def user_fills(user: User, filters: dict[str, Any]) -> QuerySet[Fill]:
    return Fill.objects.filter(fill_conditions(filters), bot__owner=user)


# Keyset pages -------------------------------------------------------------------


@dataclass(frozen=True)
class Cursor:
    time: datetime
    id: int

    def encode(self) -> str:
        raw = f"{self.time.isoformat()}~{self.id}".encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    @classmethod
    def decode(cls, token: str) -> Cursor:
        """Raises ValueError for anything that is not a cursor this module made."""
        try:
            raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()
            stamp, _, pk = raw.partition("~")
            when = parse_datetime(stamp)
            if when is None or when.tzinfo is None:
                raise ValueError("no time")
            return cls(when, int(pk))
        except (binascii.Error, UnicodeDecodeError, ValueError) as bad:
            raise ValueError("That page link is not valid.") from bad

    @classmethod
    def of(cls, fill: Fill) -> Cursor:
        return cls(fill.time, fill.pk)


@dataclass(frozen=True)
class Page:
    fills: list[Fill]
    newer: Cursor | None  # pass as `before` to see the page above
    older: Cursor | None  # pass as `after` to see the page below


def _older_than(cursor: Cursor) -> Q:
    # `time <= t` bounds the index scan; the OR then orders ties by id.
    return Q(time__lte=cursor.time) & (Q(time__lt=cursor.time) | Q(id__lt=cursor.id))


def _newer_than(cursor: Cursor) -> Q:
    return Q(time__gte=cursor.time) & (Q(time__gt=cursor.time) | Q(id__gt=cursor.id))


BOT_JSON = ("bot__config", "bot__state", "bot__ledger")
NEWEST_FIRST = ("-time", "-id")
OLDEST_FIRST = ("time", "id")


def page_of(
    user: User,
    filters: dict[str, Any],
    *,
    after: Cursor | None = None,
    before: Cursor | None = None,
    size: int = PAGE_SIZE,
) -> Page:
    """Newest first. `after`: the page below a cursor; `before`: the page above one."""
    conditions = fill_conditions(filters)
    if before is not None:
        rows = _rows(user, conditions & _newer_than(before), OLDEST_FIRST, size + 1, filters)
        more_newer = len(rows) > size
        rows = rows[:size][::-1]
        if not rows:  # nothing above the cursor any more: start from the top
            return page_of(user, filters, size=size)
        return Page(rows, Cursor.of(rows[0]) if more_newer else None, Cursor.of(rows[-1]))
    if after is not None:
        conditions &= _older_than(after)
    rows = _rows(user, conditions, NEWEST_FIRST, size + 1, filters)
    more_older = len(rows) > size
    rows = rows[:size]
    newer = Cursor.of(rows[0]) if after is not None and rows else None
    return Page(rows, newer, Cursor.of(rows[-1]) if more_older else None)


def _rows(
    user: User, conditions: Q, order: tuple[str, str], limit: int, filters: dict[str, Any]
) -> list[Fill]:
    """The first `limit` fills in `order`. Across many bots on PostgreSQL, each bot's own first
    `limit` ids come from its (bot, time, id) index in one query, and the page is the best of
    those: the cost follows the trader's bots and the page size, never the number of fills, theirs
    or anyone else's."""
    # The bot's name is all a fill row shows: its large JSON columns stay in the database.
    fills = Fill.objects.select_related("bot").defer(*BOT_JSON).order_by(*order)
    if filters.get("bot") or connection.vendor != "postgresql":
        return list(fills.filter(conditions, bot__owner=user)[:limit])
    per_bot = Fill.objects.filter(conditions, bot_id=OuterRef("pk")).order_by(*order).values("id")[:limit]
    candidates = (
        _bot_model()
        .objects.filter(owner=user)
        .annotate(fill_id=Func(ArraySubquery(per_bot), function="unnest", output_field=BigIntegerField()))
        .values("fill_id")
    )
    return list(fills.filter(pk__in=candidates)[:limit])


# CSV ----------------------------------------------------------------------------


class _Line:
    """csv.writer's file: hands back each written line instead of storing it."""

    def write(self, value: str) -> str:
        return value


def _text(value: str) -> str:
    # A cell starting with these is a formula to spreadsheet programs.
    return f"'{value}" if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


_number = exact  # exactly the stored value, without padding zeros or exponent: never through float


def csv_line(writer: Any, row: tuple[Any, ...], zone: tzinfo) -> str:
    when, bot_id, bot_name, symbol, side, price, quantity, fee, fee_asset, is_maker, trade_id, client_id = row
    return str(
        writer.writerow(
            (
                timezone.localtime(when, zone).isoformat(),
                bot_id,
                _text(bot_name),
                symbol,
                side,
                _number(price),
                _number(quantity),
                _number(price * quantity),
                _number(fee),
                fee_asset,
                "maker" if is_maker else "taker",
                _text(trade_id),
                client_id,
            )
        )
    )


def _csv_rows(fills: QuerySet[Fill]) -> QuerySet[Any]:
    return fills.order_by("-time", "-id").values_list(*CSV_FIELDS)


def csv_stream(fills: QuerySet[Fill], zone: tzinfo) -> Iterator[str]:
    """The CSV in batches of lines, read through a server-side cursor."""
    writer = csv.writer(_Line())
    yield csv_line_header(writer)
    rows = _csv_rows(fills).iterator(chunk_size=CSV_BATCH)
    while batch := list(islice(rows, CSV_BATCH)):
        yield "".join(csv_line(writer, row, zone) for row in batch)


_DONE = object()


async def csv_stream_async(fills: QuerySet[Fill], zone: tzinfo) -> AsyncIterator[str]:
    """The same CSV for the ASGI server, which would otherwise read a sync iterator to the end
    before sending its first byte. Each batch is read on the one thread that owns the cursor."""
    batches = csv_stream(fills, zone)
    read_next = sync_to_async(lambda: next(batches, _DONE), thread_sensitive=True)
    while (batch := await read_next()) is not _DONE:
        yield str(batch)


def csv_line_header(writer: Any) -> str:
    return str(writer.writerow(CSV_HEADER))
