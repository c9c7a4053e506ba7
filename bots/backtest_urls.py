"""Backtest pages, mounted at /backtests/ (bots/views/backtests.py)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from bots.views import backtests, optimisations

urlpatterns: list[URLPattern | URLResolver] = [
    path("", backtests.backtests_page, name="backtests"),
    path("compare/", backtests.backtest_compare, name="backtest_compare"),
    path("<int:pk>/", backtests.backtest_detail, name="backtest_detail"),
    path("<int:pk>/status/", backtests.backtest_status, name="backtest_status"),
    path("<int:pk>/cancel/", backtests.backtest_cancel, name="backtest_cancel"),
    path("optimise/", optimisations.optimisations_page, name="optimisations"),
    path("optimise/<int:pk>/", optimisations.optimisation_detail, name="optimisation_detail"),
    path("optimise/<int:pk>/status/", optimisations.optimisation_status, name="optimisation_status"),
    path("optimise/<int:pk>/cancel/", optimisations.optimisation_cancel, name="optimisation_cancel"),
]
