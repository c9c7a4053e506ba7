from __future__ import annotations

from django.urls import path

from notifications import alerts_views, views
from notifications.telegram import views as telegram_views

urlpatterns = [
    path("notifications/", views.notification_list, name="notifications"),
    path("notifications/<int:pk>/read/", views.notification_read, name="notification_read"),
    path("notifications/read-all/", views.notification_read_all, name="notification_read_all"),
    path("account/notifications/", views.notification_settings, name="notification_settings"),
    path("account/alerts/", alerts_views.price_alerts, name="price_alerts"),
    path("account/alerts/<int:pk>/delete/", alerts_views.price_alert_delete, name="price_alert_delete"),
    path("account/alerts/<int:pk>/rearm/", alerts_views.price_alert_rearm, name="price_alert_rearm"),
    path("notifications/unsubscribe/<str:token>/", views.unsubscribe, name="notification_unsubscribe"),
    path("account/notifications/telegram/link/", telegram_views.link, name="telegram_link"),
    path("account/notifications/telegram/unlink/", telegram_views.unlink, name="telegram_unlink"),
    path("telegram/webhook/", telegram_views.webhook, name="telegram_webhook"),
]
