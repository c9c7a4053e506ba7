"""The bell's socket through the real ASGI stack and Redis channel layer: a trader's new
notification reaches their pages with the new count, and nobody else's."""

from __future__ import annotations

import json
from typing import Any

import pytest
from channels.db import database_sync_to_async

from bots.tests.test_consumers import WAIT, closed_with, run, session_for, socket
from notifications import record

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _no_celery(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(record, "enqueue", lambda delivery_ids: None)


def test_a_new_notification_updates_the_owners_bell_and_no_one_elses(world: Any) -> None:
    owner, outsider = session_for(world.owner), session_for(world.outsider)

    def announce() -> None:
        record.record(world.owner.pk, "bot.error", "bot:1:run:1:bot.error", title="BTC grid: bot error")

    async def scenario() -> None:
        assert await closed_with(socket("/ws/notifications/")) == 4401
        bell, strangers_bell = socket("/ws/notifications/", owner), socket("/ws/notifications/", outsider)
        for communicator in (bell, strangers_bell):
            assert (await communicator.connect())[0]
            assert json.loads(await communicator.receive_from(WAIT)) == {"unread": 0}  # catch-up

        await database_sync_to_async(announce)()

        assert json.loads(await bell.receive_from(WAIT)) == {"unread": 1}
        assert await strangers_bell.receive_nothing(0.5)
        for communicator in (bell, strangers_bell):
            await communicator.disconnect()

    run(scenario)
