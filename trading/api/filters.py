"""Query-string filters for orders and fills; bad values are a 400 naming the parameter."""

from __future__ import annotations

from django.db.models import QuerySet
from rest_framework.request import Request

from trading.api.serializers import FillFilterSerializer, OrderFilterSerializer
from trading.models import Fill, Order


def filter_fills(fills: QuerySet[Fill], request: Request) -> QuerySet[Fill]:
    query = FillFilterSerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    wanted = query.validated_data
    if "bot" in wanted:
        fills = fills.filter(bot_id=wanted["bot"])
    if wanted.get("symbol"):
        fills = fills.filter(symbol__iexact=wanted["symbol"])
    if "side" in wanted:
        fills = fills.filter(side=wanted["side"])
    if "since" in wanted:
        fills = fills.filter(time__gte=wanted["since"])
    if "until" in wanted:
        fills = fills.filter(time__lt=wanted["until"])
    return fills


def filter_orders(orders: QuerySet[Order], request: Request) -> QuerySet[Order]:
    query = OrderFilterSerializer(data=request.query_params)
    query.is_valid(raise_exception=True)
    if "status" in query.validated_data:
        orders = orders.filter(status=query.validated_data["status"])
    return orders
