"""Bot pages, mounted at /bots/. The dashboard itself is the site root (config/urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from bots.views import dashboard, detail, edit, new_bot, stop

urlpatterns: list[URLPattern | URLResolver] = []

# The create-bot wizard and its live preview: the grid's (bots/views/wizard.py) unless the
# trader chose DCA (bots/views/dca_wizard.py).
urlpatterns += [
    path("new/", new_bot.bot_create, name="bot_create"),
    path("new/preview/", new_bot.bot_preview, name="bot_preview"),
]

# --------------------------------------------------------------------------------

# A bot's detail page, its fragments and its actions (bots/views/detail.py).
urlpatterns += [
    path("<int:pk>/", detail.bot_detail, name="bot_detail"),
    path("<int:pk>/tabs/<slug:tab>/", detail.bot_tab, name="bot_tab"),
    path("<int:pk>/candles/", detail.bot_candles, name="bot_candles"),
    path("<int:pk>/position/", detail.bot_position, name="bot_position"),
    path("<int:pk>/start/", detail.bot_start, name="bot_start"),
    path("<int:pk>/stop/", detail.bot_stop, name="bot_stop"),
    path("<int:pk>/emergency-stop/", detail.bot_emergency_stop, name="bot_emergency_stop"),
    path("<int:pk>/force-stop/", stop.bot_force_stop, name="bot_force_stop"),
    path("<int:pk>/clone/", detail.bot_clone, name="bot_clone"),
]

# Editing and deleting a bot that cannot trade (bots/views/edit.py).
urlpatterns += [
    path("<int:pk>/edit/", edit.bot_edit, name="bot_edit"),
    path("<int:pk>/delete/", edit.bot_delete, name="bot_delete"),
]

# --------------------------------------------------------------------------------

# The dashboard's fragments and "stop all" (bots/views/dashboard.py).
urlpatterns += [
    path("dashboard/live/", dashboard.live_region, name="dashboard_live"),
    path("dashboard/stop-all/", dashboard.stop_all, name="stop_all"),
    path("dashboard/<int:bot_id>/stop/", dashboard.stop_bot, name="dashboard_stop_bot"),
]
