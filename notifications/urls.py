from __future__ import annotations

from django.urls import path

from notifications import views
from notifications.telegram import views as telegram_views

urlpatterns = [
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
    path("notifications/read-all/", views.notification_read_all, name="notification_read_all"),
    path("account/notifications/", views.notification_settings, name="notification_settings"),
    path("notifications/unsubscribe/<str:token>/", views.unsubscribe, name="notification_unsubscribe"),
    path("account/notifications/telegram/link/", telegram_views.link, name="telegram_link"),
    path("account/notifications/telegram/unlink/", telegram_views.unlink, name="telegram_unlink"),
    path("telegram/webhook/", telegram_views.webhook, name="telegram_webhook"),
]
