from __future__ import annotations

from django.urls import path, re_path

from accounts import views

urlpatterns = [
    path("account/", views.profile, name="profile"),
    path("account/security/", views.security, name="security"),
    path("account/api-tokens/", views.api_tokens, name="api_tokens"),
    path("account/api-tokens/<int:pk>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("account/security/2fa/setup/", views.two_factor_setup, name="two_factor_setup"),
    path("account/security/2fa/disable/", views.two_factor_disable, name="two_factor_disable"),
    path(
        "account/security/2fa/backup-codes/",
        views.backup_codes_regenerate,
        name="backup_codes_regenerate",
    ),
    # Ahead of allauth's own route of the same name (see ConfirmEmailView).
    re_path(
        r"^accounts/confirm-email/(?P<key>[-:\w]+)/$",
        views.ConfirmEmailView.as_view(),
        name="account_confirm_email",
    ),
    path("accounts/2fa/authenticate/", views.two_factor_authenticate, name="two_factor_authenticate"),
]
