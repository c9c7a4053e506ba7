"""The project's ASGI application served for browser tests, and engine work run the way a
Celery worker would run it. Django's live server is WSGI and cannot carry websockets."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import uvicorn
from channels.layers import DEFAULT_CHANNEL_LAYER, channel_layers
from django.db import connection

T = TypeVar("T")
# Counts socket openings and messages, so a test waits for the page instead of sleeping.
WATCH_SOCKET = """
window.__live = {opened: 0, messages: 0};
document.addEventListener('htmx:wsOpen', () => window.__live.opened++);
document.addEventListener('htmx:wsAfterMessage', () => window.__live.messages++);
"""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class AsgiServer:
    """`config.asgi:application` under uvicorn on a thread, against the test database. It can
    stop and start again on the same port, as a deploy would."""

    def __init__(self) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.server: uvicorn.Server | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        _fresh_channel_layer()
        config = uvicorn.Config(
            "config.asgi:application", host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            assert self.thread.is_alive(), "uvicorn stopped while starting"
            assert time.monotonic() < deadline, "uvicorn did not start in time"
            time.sleep(0.05)

    def stop(self) -> None:
        if self.server is not None and self.thread is not None:
            self.server.should_exit = True
            self.thread.join(1)
            # A page still holding its socket would keep uvicorn waiting for it to close; the
            # browser is gone with the test, so stop without waiting on it.
            self.server.force_exit = True
            self.thread.join(10)
        _fresh_channel_layer()


def _fresh_channel_layer() -> None:
    """channels-redis lets one event loop at a time receive on a layer instance, and a server's
    loop that ends with a socket's receive pending keeps that claim: the next server, or a test's
    communicator on its own loop, gets "Two event loops are trying to receive() on one channel
    layer at once!". Each server gets the process's layer afresh, as a new process would."""
    channel_layers.backends.pop(DEFAULT_CHANNEL_LAYER, None)


def in_worker(work: Callable[[], T]) -> T:
    """Run engine work on its own thread, as a Celery worker would: Playwright's sync API keeps
    an event loop on the test's thread, and publishing after commit may not block that loop."""

    def run() -> T:
        try:
            return work()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=1) as worker:
        return worker.submit(run).result(timeout=60)


def wait_for_socket(page, opened: int = 1) -> None:
    """Wait until the page (with WATCH_SOCKET as an init script) has opened `opened` sockets."""
    page.wait_for_function(f"window.__live && window.__live.opened >= {opened}")
