from __future__ import annotations

from django.contrib import admin
from django.urls import include, path

from bots.views.dashboard import dashboard
from config.admin import StaffAdminSite
from config.favicon import favicon
from config.health import healthz

# Staff sign in through the site (rate limits, second factor) and must have passed 2FA.
admin.site.__class__ = StaffAdminSite

urlpatterns = [
    path("healthz", healthz, name="healthz"),
    path("favicon.ico", favicon, name="favicon"),
    path("admin/", admin.site.urls),
    path("stripe/", include("djstripe.urls", namespace="djstripe")),
    path("", include("billing.urls")),
    path("", dashboard, name="home"),
    path("account/webhooks/", include("bots.webhook_urls")),
    path("", include("accounts.urls")),
    path("", include("notifications.urls")),
    path("", include("risk.urls")),
    path("accounts/", include("allauth.urls")),
    path("exchange-accounts/", include("exchanges.urls")),
    path("bots/", include("bots.urls")),
    path("backtests/", include("bots.backtest_urls")),
    path("trades/", include("trading.urls")),
    path("api/", include("config.api")),
]

# Under /api/ errors keep the API's JSON shape; elsewhere Django's pages.
handler400 = "accounts.api.handlers.bad_request"
handler403 = "accounts.api.handlers.permission_denied"
handler404 = "accounts.api.handlers.page_not_found"
handler500 = "accounts.api.handlers.server_error"
