from __future__ import annotations

from django.urls import path

from risk import views

urlpatterns = [
    path("account/risk/", views.risk, name="risk"),
    path("account/risk/kill-switch/", views.kill_switch, name="risk_kill_switch"),
]
