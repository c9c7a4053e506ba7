"""Bot pages, mounted at /bots/. The dashboard itself is the site root (config/urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from bots.views import dashboard

urlpatterns: list[URLPattern | URLResolver] = []

# The create-bot wizard and its live preview (bots/views/wizard.py).
urlpatterns += []

# --------------------------------------------------------------------------------

# A bot's detail page, its fragments and its actions (bots/views/detail.py).
urlpatterns += []

# --------------------------------------------------------------------------------

# The dashboard's fragments and "stop all" (bots/views/dashboard.py).
urlpatterns += [
    path("dashboard/live/", dashboard.live_region, name="dashboard_live"),
    path("dashboard/stop-all/", dashboard.stop_all, name="stop_all"),
    path("dashboard/<int:bot_id>/stop/", dashboard.stop_bot, name="dashboard_stop_bot"),
]
