"""An unreachable venue is described as what happened: refused, not found, or timed out."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from exchanges.base import ExchangeUnavailable
from exchanges.bybit.adapter import BybitExchange


def _client(base_url: str, timeout: float = 10.0) -> BybitExchange:
    return BybitExchange("k", "s", environment="custom", base_url=base_url, timeout=timeout, read_retries=0)


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])  # free again once closed: nothing listens there


@pytest.fixture
def silent_port() -> Iterator[int]:
    """Accepts connections, never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield int(listener.getsockname()[1])


def test_a_refused_connection_says_so() -> None:
    with pytest.raises(ExchangeUnavailable) as raised:
        _client(f"http://127.0.0.1:{_closed_port()}").ticker("BTCUSDT")
    assert raised.value.message == "Could not connect to Bybit (connection refused)."


def test_an_address_that_does_not_resolve_says_so() -> None:
    with pytest.raises(ExchangeUnavailable) as raised:
        _client("http://gridwise-no-such-venue.invalid").ticker("BTCUSDT")
    assert raised.value.message == (
        "Could not find Bybit's address (the DNS lookup for gridwise-no-such-venue.invalid failed)."
    )


def test_a_venue_that_never_answers_is_a_timeout(silent_port: int) -> None:
    started = time.monotonic()
    with pytest.raises(ExchangeUnavailable) as raised:
        _client(f"http://127.0.0.1:{silent_port}", timeout=0.5).ticker("BTCUSDT")
    assert raised.value.message == "Bybit did not answer within 0.5 seconds (timed out)."
    assert time.monotonic() - started < 3
