from __future__ import annotations

# The bots' fixtures (a trader with a draft paper bot) serve the fills API tests too.
from bots.tests.conftest import paper_bot, trader  # noqa: F401
