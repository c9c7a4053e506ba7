"""Request body parsers for the API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

MAX_JSON_DEPTH = 32


class DepthLimitedJSONParser(JSONParser):
    """JSON no deeper than `MAX_JSON_DEPTH` levels: nothing the API takes nests that far, and
    thousands of levels exhaust the decoder's (and every later walker's) recursion."""

    max_depth = MAX_JSON_DEPTH

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError as exc:
            raise ParseError(self._too_deep()) from exc
        if _depth_exceeds(data, self.max_depth):
            raise ParseError(self._too_deep())
        return data

    def _too_deep(self) -> str:
        return f"JSON parse error - nested deeper than {self.max_depth} levels."


def _depth_exceeds(data: Any, limit: int) -> bool:
    """Whether arrays and objects nest deeper than `limit`, walked without recursion."""
    stack: list[tuple[Any, int]] = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        children = value.values() if isinstance(value, Mapping) else value if isinstance(value, list) else ()
        for child in children:
            if isinstance(child, Mapping | list):
                if depth + 1 > limit:
                    return True
                stack.append((child, depth + 1))
    return False
