from __future__ import annotations

from django.urls import path

from exchanges import views

urlpatterns = [
    path("", views.account_list, name="exchange_accounts"),
    path("new/", views.account_add, name="exchange_account_add"),
    path("<int:pk>/", views.account_detail, name="exchange_account_detail"),
    path("<int:pk>/balances/", views.account_balances, name="exchange_account_balances"),
    path("<int:pk>/check/", views.account_recheck, name="exchange_account_recheck"),
    path("<int:pk>/delete/", views.account_delete, name="exchange_account_delete"),
]
