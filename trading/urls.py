"""Trade history and its CSV export, mounted at /trades/."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from trading import views

urlpatterns: list[URLPattern | URLResolver] = [
    path("", views.trade_history, name="trade_history"),
    path("export.csv", views.trade_export, name="trade_export"),
]
