from __future__ import annotations

from django.urls import path

from billing import views

urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("account/billing/", views.billing, name="billing"),
    path("account/billing/subscribe/<str:code>/", views.subscribe, name="billing_subscribe"),
    path("account/billing/change/", views.change_plan, name="billing_change"),
    path("account/billing/cancel/", views.cancel, name="billing_cancel"),
    path("account/billing/resume/", views.resume, name="billing_resume"),
    path("account/billing/card/", views.card, name="billing_card"),
    path("account/billing/invoices/<str:invoice_id>/", views.invoice, name="billing_invoice"),
]
