"""Fills across every bot of the caller: filters, cursor pages, and a streamed CSV export."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from typing import Any

from django.db.models import QuerySet
from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import mixins, renderers
from rest_framework.decorators import action
from rest_framework.request import Request

from accounts.api.errors import READ_ERRORS, error_responses
from accounts.api.pagination import TimeCursorPagination
from accounts.api.views import ApiViewSet
from trading.api.filters import filter_fills
from trading.api.serializers import FillFilterSerializer, FillSerializer
from trading.models import Fill
from trading.numbers import exact

FILL_EXAMPLE = {
    "id": 31,
    "bot": 4,
    "order": 88,
    "client_order_id": "gw4r1-2-0b",
    "trade_id": "p-1029",
    "symbol": "BTCUSDT",
    "side": "buy",
    "price": "53000.0",
    "quantity": "0.003773",
    "fee": "0.000003773",
    "fee_asset": "BTC",
    "is_maker": True,
    "time": "2026-01-05T10:03:00Z",
}
CSV_COLUMNS = (
    "time",
    "bot",
    "symbol",
    "side",
    "price",
    "quantity",
    "fee",
    "fee_asset",
    "trade_id",
    "client_order_id",
)


class CSVRenderer(renderers.BaseRenderer):
    """Lets `Accept: text/csv` through negotiation; the export streams its own body."""

    media_type = "text/csv"
    format = "csv"
    charset = "utf-8"

    def render(
        self, data: Any, accepted_media_type: str | None = None, renderer_context: Any = None
    ) -> bytes:
        return renderers.JSONRenderer().render(data)


class _Echo:
    def write(self, value: str) -> str:
        return value


def fills_csv(fills: QuerySet[Fill], filename: str) -> StreamingHttpResponse:
    """Stream rows as they are read: a year of fills never sits in memory."""

    def rows() -> Iterator[str]:
        writer = csv.writer(_Echo())
        yield writer.writerow(CSV_COLUMNS)
        for fill in fills.select_related("order").order_by("time", "id").iterator(chunk_size=2000):
            yield writer.writerow(
                (
                    fill.time.isoformat(),
                    fill.bot_id,
                    fill.symbol,
                    fill.side,
                    exact(fill.price),  # in full, without the column's padding zeros
                    exact(fill.quantity),
                    exact(fill.fee),
                    fill.fee_asset,
                    fill.trade_id,
                    fill.order.client_order_id,
                )
            )

    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def owned_fills(request: Request) -> QuerySet[Fill]:
    return Fill.objects.filter(bot__owner_id=request.user.pk).select_related("order")


CSV_RESPONSE = OpenApiResponse(
    OpenApiTypes.STR,
    description="CSV, one fill a line, oldest first.",
    examples=[
        OpenApiExample(
            "CSV",
            value=(
                "time,bot,symbol,side,price,quantity,fee,fee_asset,trade_id,client_order_id\r\n"
                "2026-01-05T10:03:00+00:00,4,BTCUSDT,buy,53000.0,0.003773,0.000003773,BTC,p-1029,gw4r1-2-0b\r\n"
            ),
            media_type="text/csv",
            response_only=True,
        )
    ],
)


class FillViewSet(mixins.ListModelMixin, ApiViewSet):
    serializer_class = FillSerializer
    pagination_class = TimeCursorPagination

    def get_queryset(self) -> QuerySet[Fill]:
        return filter_fills(owned_fills(self.request), self.request)

    @extend_schema(
        summary="Fills across your bots",
        description=(
            "Every fill of your bots, newest first, in cursor pages (`next` is a link; `limit` up to "
            "1000). Filter by `bot`, `symbol`, `side` and time (`since` inclusive, `until` exclusive)."
        ),
        parameters=[FillFilterSerializer],
        responses={200: FillSerializer(many=True), **error_responses(400, *READ_ERRORS)},
        examples=[OpenApiExample("Fill", value=FILL_EXAMPLE, response_only=True)],
    )
    def list(self, request: Request, *args: Any, **kwargs: Any) -> Any:
        return super().list(request, *args, **kwargs)

    @extend_schema(
        summary="Export fills as CSV",
        description="The same filters as the list; the whole result streamed as CSV, oldest first.",
        parameters=[FillFilterSerializer],
        responses={(200, "text/csv"): CSV_RESPONSE, **error_responses(400, *READ_ERRORS)},
    )
    @action(detail=False, methods=["get"], renderer_classes=[renderers.JSONRenderer, CSVRenderer])
    def export(self, request: Request) -> StreamingHttpResponse:
        stamp = timezone.now().strftime("%Y%m%d-%H%M%S")
        return fills_csv(self.get_queryset(), f"gridwise-fills-{stamp}.csv")
