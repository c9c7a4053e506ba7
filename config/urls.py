from __future__ import annotations

from django.contrib import admin
from django.urls import include, path
from django_otp.admin import OTPAdminSite

from bots.views.dashboard import dashboard
from config.health import healthz

# Staff must pass a second factor to reach the admin.
admin.site.__class__ = OTPAdminSite
admin.site.site_header = "Gridwise staff"
admin.site.site_title = "Gridwise staff"

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("admin/", admin.site.urls),
    path("", dashboard, name="home"),
    path("account/webhooks/", include("bots.webhook_urls")),
    path("", include("accounts.urls")),
    path("accounts/", include("allauth.urls")),
    path("exchange-accounts/", include("exchanges.urls")),
    path("bots/", include("bots.urls")),
    path("trades/", include("trading.urls")),
    path("api/", include("config.api")),
]

# Under /api/ errors keep the API's JSON shape; elsewhere Django's pages.
handler400 = "accounts.api.handlers.bad_request"
handler403 = "accounts.api.handlers.permission_denied"
handler404 = "accounts.api.handlers.page_not_found"
handler500 = "accounts.api.handlers.server_error"
