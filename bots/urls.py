"""Bot pages, mounted at /bots/. The dashboard itself is the site root (config/urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from bots.views import wizard

urlpatterns: list[URLPattern | URLResolver] = []

# The create-bot wizard and its live preview (bots/views/wizard.py).
urlpatterns += [
    path("new/", wizard.bot_create, name="bot_create"),
    path("new/preview/", wizard.bot_preview, name="bot_preview"),
]

# --------------------------------------------------------------------------------

# A bot's detail page, its fragments and its actions (bots/views/detail.py).
urlpatterns += []

# --------------------------------------------------------------------------------

# The dashboard's fragments and "stop all" (bots/views/dashboard.py).
urlpatterns += []
