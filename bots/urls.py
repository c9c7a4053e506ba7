"""Bot pages, mounted at /bots/. The dashboard itself is the site root (config/urls.py)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver

urlpatterns: list[URLPattern | URLResolver] = []

# The create-bot wizard and its live preview (bots/views/wizard.py).
urlpatterns += []

# --------------------------------------------------------------------------------

# A bot's detail page, its fragments and its actions (bots/views/detail.py).
urlpatterns += []

# --------------------------------------------------------------------------------

# The dashboard's fragments and "stop all" (bots/views/dashboard.py).
urlpatterns += []
