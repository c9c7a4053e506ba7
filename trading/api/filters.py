"""Query-string filters for orders and fills; bad values are a 400 naming the parameter."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework import serializers
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request

from trading.api.serializers import FillFilterSerializer, OrderFilterSerializer
from trading.models import Fill, Order


def filter_fills(fills: QuerySet[Fill], request: Request) -> QuerySet[Fill]:
    query = _checked(FillFilterSerializer(data=request.query_params), request)
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
    query = _checked(OrderFilterSerializer(data=request.query_params), request)
    if "status" in query.validated_data:
        orders = orders.filter(status=query.validated_data["status"])
    return orders


def _checked(query: serializers.Serializer[Any], request: Request) -> serializers.Serializer[Any]:
    """DRF reads an empty optional query parameter as left out; `symbol=` is more likely a
    script's bug than a wish for every symbol, so it is a 400 naming the parameter."""
    blank = [str(name) for name in query.fields if request.query_params.get(str(name)) == ""]
    if blank:
        raise ValidationError({name: ["Give a value, or leave the parameter out."] for name in blank})
    query.is_valid(raise_exception=True)
    return query
