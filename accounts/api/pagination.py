"""Cursor pagination: stable under inserts, so a script paging through fills misses none."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import Cursor, CursorPagination
from rest_framework.request import Request

from accounts.api.errors import ApiError


class ApiCursorPagination(CursorPagination):
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000
    ordering = ("-created_at", "-id")

    def decode_cursor(self, request: Request) -> Cursor | None:
        # A cursor is a page that exists only as a link we gave; any other names no page: 404,
        # in our shape, saying which parameter.
        try:
            return super().decode_cursor(request)
        except NotFound as exc:
            raise ApiError(
                404,
                "invalid_cursor",
                "No such page: use the `next` or `previous` link as given.",
                fields={self.cursor_query_param: ["Use the `next` or `previous` link as given."]},
            ) from exc

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"] = {
                    **parameter["schema"],
                    "minimum": 1,
                    "maximum": self.max_page_size,
                    "default": self.page_size,
                }
        return parameters

    def get_page_size(self, request: Request) -> Any:
        if self.page_size_query_param in request.query_params:
            value = request.query_params[self.page_size_query_param]
            if not (value.isascii() and value.isdigit()) or not 1 <= int(value) <= self.max_page_size:
                raise ValidationError(
                    {self.page_size_query_param: [f"Use a number from 1 to {self.max_page_size}."]}
                )
        return super().get_page_size(request)


class TimeCursorPagination(ApiCursorPagination):
    ordering = ("-time", "-id")


class OldestFirstTimePagination(ApiCursorPagination):
    """Series for charts read oldest first."""

    ordering = ("time", "id")
