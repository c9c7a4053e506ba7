from __future__ import annotations

from django.urls import path

from billing import views

urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("account/billing/", views.billing, name="billing"),
    path("account/billing/subscribe/<str:code>/", views.subscribe, name="billing_subscribe"),
]
