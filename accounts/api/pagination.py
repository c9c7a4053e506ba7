"""Cursor pagination: stable under inserts, so a script paging through fills misses none."""

from __future__ import annotations

from rest_framework.pagination import CursorPagination


class ApiCursorPagination(CursorPagination):
    page_size = 100
    page_size_query_param = "limit"
    max_page_size = 1000
    ordering = ("-created_at", "-id")


class TimeCursorPagination(ApiCursorPagination):
    ordering = ("-time", "-id")


class OldestFirstTimePagination(ApiCursorPagination):
    """Series for charts read oldest first."""

    ordering = ("time", "id")
