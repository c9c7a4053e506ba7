"""localstripe, a fake but stateful Stripe server, for the tests and the zero-config run.

It is started as a child process on a free loopback port, and the SDK's api_base is pointed
at it. Its store stays in memory: localstripe would otherwise pickle every change into one
shared file in /tmp, which two runs side by side would overwrite.
"""

from __future__ import annotations

import atexit
import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass

import stripe
from django.conf import settings

# Run by `python -c` in the child: serve localstripe's aiohttp app on loopback only, and end
# when the parent does (a SIGTERM or a kill skips the parent's atexit, which would leave it).
_SERVE = """
import os, sys, threading, time
from aiohttp import web
from localstripe.resources import store
from localstripe.server import app

def _watch(parent):
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)

threading.Thread(target=_watch, args=(int(sys.argv[2]),), daemon=True).start()
store.dump_to_disk = lambda: None
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), print=None, access_log=None)
"""


@dataclass
class LocalStripe:
    process: subprocess.Popen[bytes]
    url: str

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_until_listening(port: int, process: subprocess.Popen[bytes], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"localstripe exited with code {process.returncode} before listening")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            time.sleep(0.05)
    process.terminate()
    raise RuntimeError(f"localstripe did not listen on port {port} within {timeout:.0f}s")


def start_localstripe(port: int | None = None, timeout: float = 20.0) -> LocalStripe:
    """Start localstripe and point the stripe SDK (ours and dj-stripe's calls) at it."""
    port = port or free_port()
    process = subprocess.Popen(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", _SERVE, str(port), str(os.getpid())],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _wait_until_listening(port, process, timeout)
    server = LocalStripe(process, f"http://127.0.0.1:{port}")
    atexit.register(server.stop)
    use_api_base(server.url)
    return server


def use_api_base(url: str) -> None:
    stripe.api_base = url
    settings.STRIPE_API_BASE = url


def register_webhook(server: LocalStripe, url: str) -> None:
    """Ask localstripe to post its events, signed with our webhook secret, to `url`."""
    import requests

    response = requests.post(
        f"{server.url}/_config/webhooks/gridwise",
        data={"url": url, "secret": settings.STRIPE_WEBHOOK_SECRET},
        timeout=5,
    )
    response.raise_for_status()
