"""`ws/backtests/<id>/` and `ws/optimisations/<id>/`: a run's page while it runs.

Progress events (bots.backtests.live) become the page's status fragment, rendered by the page's
own partial and swapped in place; the event that ends the run also brings its results.
"""

from __future__ import annotations

from typing import Any

from channels.db import database_sync_to_async

from bots.backtests.live import backtests_group
from bots.backtests.models import Backtest, Optimisation
from bots.consumers import Event, LiveConsumer


class RunConsumer(LiveConsumer):
    """Shared by both pages: join the trader's backtests group, render only this run's events."""

    kind = ""
    model: type[Backtest] | type[Optimisation]

    async def group_for_user(self) -> str | None:
        self.run_id = int(self.scope["url_route"]["kwargs"]["pk"])
        owned = await database_sync_to_async(
            self.model.objects.owned_by(self.user).filter(pk=self.run_id).exists
        )()
        return backtests_group(self.user.pk) if owned else None

    async def backtest_progress(self, event: Event) -> None:
        if event.get("kind") == self.kind and event.get("run_id") == self.run_id:
            await self.bot_event(event)

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        return  # the page has nothing to say

    def catch_up_event(self) -> Event:
        return {"type": "live.connect", "kind": self.kind, "run_id": self.run_id}

    def merge(self, events: list[Event]) -> Event:
        return events[-1]  # each render reads the row: the newest state is all a page needs

    def render(self, event: Event) -> str:
        from bots.views import backtests

        return backtests.live_fragments(self.user, self.kind, self.run_id, self.csrf())


class BacktestConsumer(RunConsumer):
    kind = "backtest"
    model = Backtest


class OptimisationConsumer(RunConsumer):
    kind = "optimisation"
    model = Optimisation


def routes() -> list[Any]:
    from django.urls import path

    return [
        path("ws/backtests/<int:pk>/", BacktestConsumer.as_asgi()),
        path("ws/optimisations/<int:pk>/", OptimisationConsumer.as_asgi()),
    ]
