"""channels' WebsocketCommunicator without daphne.

`channels.testing` imports daphne for its live-server test case, which this project does not
use (uvicorn serves ASGI); the communicator itself needs nothing from daphne. A placeholder
stands in for daphne only while the package is imported, then is removed again.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import TYPE_CHECKING


def _import_communicator() -> type:
    try:
        from channels.testing import WebsocketCommunicator
    except ModuleNotFoundError as exc:
        if exc.name not in ("daphne", "daphne.testing"):
            raise
        placeholder, testing = ModuleType("daphne"), ModuleType("daphne.testing")
        testing.DaphneProcess = None  # type: ignore[attr-defined]
        placeholder.testing = testing  # type: ignore[attr-defined]
        sys.modules.update({"daphne": placeholder, "daphne.testing": testing})
        try:
            from channels.testing import WebsocketCommunicator
        finally:
            del sys.modules["daphne"], sys.modules["daphne.testing"]
    return WebsocketCommunicator


if TYPE_CHECKING:
    from channels.testing import WebsocketCommunicator
else:
    WebsocketCommunicator = _import_communicator()
