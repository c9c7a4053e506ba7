"""Websocket routes. Apps add their consumers here as they gain live pages."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from bots.backtests.consumers import routes as backtest_routes
from bots.consumers import BotConsumer, DashboardConsumer
from notifications.consumers import BellConsumer

websocket_urlpatterns: list[URLPattern | URLResolver] = [
    path("ws/live/", DashboardConsumer.as_asgi()),
    path("ws/bots/<int:bot_id>/", BotConsumer.as_asgi()),
    path("ws/notifications/", BellConsumer.as_asgi()),
    *backtest_routes(),
]
