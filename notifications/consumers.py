"""`ws/notifications/`: the bell's unread count on every page of a signed-in trader."""

from __future__ import annotations

import json

from bots.consumers import Event, LiveConsumer
from notifications.live import notifications_group, unread_count


class BellConsumer(LiveConsumer):
    """Sends `{"unread": n}`; the count is read when sent, so a burst of events sends one."""

    async def group_for_user(self) -> str | None:
        return notifications_group(self.user.pk)

    def catch_up_event(self) -> Event:
        return {"type": "live.connect", "kind": "connect"}

    async def notifications_unread(self, event: Event) -> None:
        await self.bot_event(event)

    def merge(self, events: list[Event]) -> Event:
        return events[-1]

    def render(self, event: Event) -> str:
        return json.dumps({"unread": unread_count(self.user.pk)})
