"""Websocket routes. Apps add their consumers here as they gain live pages."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

websocket_urlpatterns: list[URLPattern | URLResolver] = []
