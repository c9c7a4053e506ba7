"""Webhook endpoint pages, mounted at /account/webhooks/ (bots/views/webhooks.py)."""

from __future__ import annotations

from django.urls import path

from bots.views import webhooks

urlpatterns = [
    path("", webhooks.endpoint_list, name="webhooks"),
    path("<int:pk>/", webhooks.endpoint_detail, name="webhook_detail"),
    path("<int:pk>/ping/", webhooks.endpoint_ping, name="webhook_ping"),
    path("<int:pk>/rotate-secret/", webhooks.endpoint_rotate, name="webhook_rotate"),
    path("<int:pk>/delete/", webhooks.endpoint_delete, name="webhook_delete"),
    path("<int:pk>/deliveries/<int:delivery_pk>/", webhooks.delivery_detail, name="webhook_delivery"),
]
