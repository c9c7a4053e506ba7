"""Backtests through the API: thin views over `bots.backtests.actions`; the run is a Celery task."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.errors import OBJECT_ERRORS, READ_ERRORS, ApiError, error_responses, validation_error
from accounts.api.pagination import ApiCursorPagination, OldestFirstTimePagination
from accounts.api.views import ApiViewSet, owned_or_404
from bots.api.backtest_serializers import (
    BACKTEST_REQUEST_SCHEMA,
    BacktestDetailSerializer,
    BacktestFillSerializer,
    BacktestSerializer,
    OptimisationRequestSerializer,
    OptimisationSerializer,
    backtest_request,
)
from bots.api.views import CONFIG_EXAMPLE
from bots.backtests import actions
from bots.backtests.models import Backtest, BacktestStatus, Optimisation

GRID_EXAMPLE = {key: value for key, value in CONFIG_EXAMPLE.items() if key not in ("account", "symbol")}
REQUEST_EXAMPLE = {
    "strategy": "grid",
    "config": {**GRID_EXAMPLE, "lower_price": "16000", "upper_price": "24000", "grid_count": 20},
    "symbol": "BTCUSDT",
    "interval": "5m",
    "start": "2023-01-02T00:00:00Z",
    "end": "2023-01-09T00:00:00Z",
}
QUEUED_EXAMPLE = {
    "id": 12,
    "strategy": "grid",
    "symbol": "BTCUSDT",
    "interval": "5m",
    "start": "2023-01-02T00:00:00Z",
    "end": "2023-01-09T00:00:00Z",
    "config": {
        **REQUEST_EXAMPLE["config"],  # type: ignore[dict-item]
        "symbol": "BTCUSDT",
        "trigger_price": None,
        "take_profit_price": None,
        "take_profit_action": "sell_base",
        "stop_loss_price": None,
        "stop_loss_action": "sell_base",
        "max_drawdown": None,
    },
    "status": "queued",
    "progress": 0,
    "error": "",
    "candles": 0,
    "candles_missing": 0,
    "metrics": None,
    "created_at": "2026-01-05T10:00:00Z",
    "started_at": None,
    "finished_at": None,
}
DONE_EXAMPLE = {
    **QUEUED_EXAMPLE,
    "status": "done",
    "progress": 100,
    "candles": 2016,
    "metrics": {
        "total_return": "0.0213",
        "apr": "1.11",
        "grid_profit": "24.9",
        "unrealized": "-2.1",
        "fees": "3.2",
        "total_pnl": "21.3",
        "max_drawdown": {
            "value": "18.4",
            "fraction": "0.0181",
            "start": "2023-01-03T10:05:00Z",
            "end": "2023-01-04T02:40:00Z",
        },
        "max_floating_drawdown": "20.5",
        "max_floating_drawdown_fraction": "0.0205",
        "sharpe": "4.2",
        "sortino": "7.9",
        "calmar": "61.3",
        "profit_factor": None,
        "round_trips": 31,
        "fills": 64,
        "time_in_range": "1",
        "buy_and_hold_return": "0.0741",
        "investment": "1000",
        "equity": "1021.3",
        "started_at": "2023-01-02T00:00:00Z",
        "start_price": "16617.2",
        "first_price": "16617.2",
        "last_price": "17127.4",
        "deals": None,
    },
    "started_at": "2026-01-05T10:00:01Z",
    "finished_at": "2026-01-05T10:00:03Z",
    "equity": [{"time": "2023-01-02T00:00:00Z", "price": "16625.1", "equity": "1000.2", "unrealized": "0.4"}],
}
DCA_REQUEST_EXAMPLE = {
    "strategy": "dca",
    "config": {
        "base_order_size": "100",
        "safety_order_size": "50",
        "price_deviation": "1",
        "step_scale": "1",
        "volume_scale": "1.5",
        "max_safety_orders": 5,
        "max_active_safety_orders": 2,
        "take_profit": "1.5",
        "take_profit_on": "total",
        "trailing_deviation": None,
        "stop_loss": None,
        "direction": "long",
    },
    "symbol": "BTCUSDT",
    "interval": "5m",
    "start": "2023-01-02T00:00:00Z",
    "end": "2023-01-09T00:00:00Z",
}
DCA_DEALS_EXAMPLE = {
    "deals_closed": 14,
    "average_duration": 20100,
    "max_duration": 86400,
    "max_safety_orders_used": 3,
    "max_floating_drawdown": "12.4",
    "open_deal": {"unrealized": "-1.8", "safety_orders_used": 1},
}
DCA_DONE_EXAMPLE = {
    **DONE_EXAMPLE,
    "strategy": "dca",
    "config": {
        **DCA_REQUEST_EXAMPLE["config"],  # type: ignore[dict-item]
        "symbol": "BTCUSDT",
        "breakeven_after": None,
        "start_condition": "immediately",
        "start_price": None,
        "cooldown": None,
        "max_deals": None,
    },
    "metrics": {**DONE_EXAMPLE["metrics"], "deals": DCA_DEALS_EXAMPLE},  # type: ignore[dict-item]
}
FUTURES_REQUEST_EXAMPLE = {
    "strategy": "futures_grid",
    "config": {
        "lower_price": "16000",
        "upper_price": "18000",
        "grid_count": 20,
        "investment": "1000",
        "leverage": "5",
        "mode": "long",
        "spacing": "arithmetic",
    },
    "symbol": "BTCUSDT",
    "interval": "5m",
    "start": "2023-01-03T00:00:00Z",
    "end": "2023-01-07T00:00:00Z",
}
FUTURES_DONE_EXAMPLE = {
    **DONE_EXAMPLE,
    "strategy": "futures_grid",
    "config": {
        **FUTURES_REQUEST_EXAMPLE["config"],  # type: ignore[dict-item]
        "symbol": "BTCUSDT",
        "trigger_price": None,
        "take_profit_price": None,
        "stop_loss_price": None,
    },
    "metrics": {
        **DONE_EXAMPLE["metrics"],  # type: ignore[dict-item]
        "futures": {
            "mode": "long",
            "leverage": "5",
            "quantity_per_order": "0.011",
            "fees": "2.4174027",
            "funding_paid": "5.78941815",
            "funding_received": "0",
            "funding_rate_assumed": "0.0001",
            "funding_source": "assumed",
            "funding_settlements": 20,
            "liquidated_at": None,
            "liquidation_price": None,
            "bankruptcy_price": None,
            "margin_lost": "0",
            "peak_notional": "3268.4",
            "max_leverage_used": "3.27",
            "position": {"side": "long", "size": "0.121", "margin": "405.2"},
        },
    },
}
RUN_ERRORS = error_responses(400, 401, 403, 429)


def _refused(exc: actions.BacktestError) -> ApiError:
    return validation_error(exc.fields)


@extend_schema_view(
    list=extend_schema(
        summary="List your backtests",
        description="Your backtests, newest first, in cursor pages, without their equity series. "
        "Filter with `status`.",
        parameters=[OpenApiParameter("status", str, enum=[s.value for s in BacktestStatus])],
        responses={200: BacktestSerializer(many=True), **error_responses(400, *READ_ERRORS)},
        examples=[OpenApiExample("Done", value=DONE_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="Read a backtest",
        description=(
            "Its status and progress (percent); once `done`, its metrics and equity series (at most "
            "1,000 points, evenly thinned, the last close always included). A failed one says why in "
            "`error`."
        ),
        responses={200: BacktestDetailSerializer, **error_responses(*OBJECT_ERRORS)},
        examples=[
            OpenApiExample("Done", value=DONE_EXAMPLE, response_only=True),
            OpenApiExample("A DCA backtest, done", value=DCA_DONE_EXAMPLE, response_only=True),
            OpenApiExample("A futures grid backtest, done", value=FUTURES_DONE_EXAMPLE, response_only=True),
        ],
    ),
)
class BacktestViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = BacktestSerializer
    pagination_class = ApiCursorPagination
    queryset = Backtest.objects.none()  # for the schema's path types; get_queryset scopes to the caller

    def get_queryset(self) -> QuerySet[Backtest]:
        backtests = Backtest.objects.owned_by(self.user)
        if self.action == "list" and "status" in self.request.query_params:
            wanted = self.request.query_params["status"]
            if wanted not in BacktestStatus.values:
                raise validation_error({"status": [f"Use one of: {', '.join(BacktestStatus.values)}."]})
            backtests = backtests.filter(status=wanted)
        return backtests

    def get_object(self) -> Backtest:
        return owned_or_404(self.get_queryset(), self.kwargs["pk"])

    def retrieve(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(BacktestDetailSerializer(self.get_object()).data)

    @extend_schema(
        summary="Run a backtest",
        description=(
            "Queues a backtest of a grid or a DCA bot over stored candles and answers at once (202) "
            'with its id; poll it for progress and results. With `strategy` "grid" (the default) '
            "`config` takes the grid fields of bot creation (`account` and `name` are ignored); "
            "take-profit, stop-loss and maximum drawdown are not simulated yet and are refused. With "
            '`strategy` "dca" it takes a DCA bot\'s fields (percentages in percent), every exit '
            "simulated; the results' `metrics.deals` then describes its deals. With `strategy` "
            '"futures_grid" it takes the futures grid preview\'s fields (leverage, mode long/short/'
            "neutral; `account` and `reference_price` are not taken; trigger, take-profit and "
            "stop-loss are refused), validated at the window's first price; the run is on the "
            "symbol's USDT perpetual with isolated margin, funding at an ASSUMED constant rate "
            "(no funding history ships) and liquidation, reported under `metrics.futures`. "
            "The window is [start, end): candles opening at or after "
            "`start` and before `end`, at most BACKTEST_MAX_CANDLES of them (the server's setting). "
            "400 naming the field for an empty or reversed window, a window in the future or beyond "
            "the cap, a symbol with no candles in the window, and a grid the venue's filters refuse "
            "at the window's first price. Needs the `trade` scope."
        ),
        request=BACKTEST_REQUEST_SCHEMA,
        responses={202: BacktestSerializer, **RUN_ERRORS},
        examples=[
            OpenApiExample("A week of 5m candles", value=REQUEST_EXAMPLE, request_only=True),
            OpenApiExample("A DCA bot over a week", value=DCA_REQUEST_EXAMPLE, request_only=True),
            OpenApiExample("A futures grid over four days", value=FUTURES_REQUEST_EXAMPLE, request_only=True),
            OpenApiExample("Queued", value=QUEUED_EXAMPLE, response_only=True, status_codes=["202"]),
        ],
    )
    def create(self, request: Request) -> Response:
        given = backtest_request(request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            plan = actions.check_backtest(
                given.strategy_config(), data["interval"], data["start"], data["end"]
            )
        except actions.BacktestError as exc:
            raise _refused(exc) from exc
        backtest = actions.do_create_backtest(self.user, plan)
        return Response(BacktestSerializer(backtest).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Cancel a backtest",
        description=(
            "Stops a queued or running backtest; nothing of a cancelled run is kept. Cancelling a "
            "cancelled one answers the same; a done or failed one is a 409 `backtest_finished`."
        ),
        request=None,
        responses={200: BacktestSerializer, **error_responses(*OBJECT_ERRORS, 409)},
        examples=[
            OpenApiExample("Cancelled", value={**QUEUED_EXAMPLE, "status": "cancelled"}, response_only=True)
        ],
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        try:
            backtest = actions.do_cancel_backtest(self.get_object())
        except actions.BacktestFinished as exc:
            raise ApiError(409, "backtest_finished", str(exc)) from exc
        return Response(BacktestSerializer(backtest).data)

    @extend_schema(
        summary="A backtest's fills",
        description="Its simulated fills in the order they happened, in cursor pages; empty until done.",
        responses={200: BacktestFillSerializer(many=True), **error_responses(400, *OBJECT_ERRORS)},
        examples=[
            OpenApiExample(
                "Fill",
                value={
                    "id": 301,
                    "time": "2023-01-02T00:05:00Z",
                    "leg": 2,
                    "side": "buy",
                    "price": "16400",
                    "quantity": "0.003",
                    "fee": "0.000003",
                    "fee_asset": "BTC",
                    "is_maker": True,
                    "interval": 7,
                    "cycle": 0,
                },
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["get"], pagination_class=OldestFirstTimePagination)
    def fills(self, request: Request, pk: str) -> Response:
        page = self.paginate_queryset(self.get_object().fills.all())
        return self.get_paginated_response(BacktestFillSerializer(page, many=True).data)


OPTIMISE_REQUEST_EXAMPLE = {
    "symbol": "BTCUSDT",
    "interval": "5m",
    "start": "2023-01-02T00:00:00Z",
    "end": "2023-02-01T00:00:00Z",
    "investment": "1000",
    "bounds": {
        "lower_price": {"min": "15000", "max": "17000"},
        "upper_price": {"min": "21000", "max": "24000"},
        "grid_count": {"min": 10, "max": 100},
        "spacings": ["arithmetic", "geometric"],
        "directions": ["long"],
    },
    "method": "random",
    "runs": 500,
    "seed": 7,
    "objective": "return_over_drawdown",
    "train_fraction": "0.7",
    "top": 10,
}

OPTIMISATION_QUEUED_EXAMPLE = {
    "id": 4,
    "symbol": "BTCUSDT",
    "interval": "5m",
    "start": "2023-01-02T00:00:00Z",
    "end": "2023-02-01T00:00:00Z",
    "search": {
        "investment": "1000",
        "trigger_price": None,
        "bounds": OPTIMISE_REQUEST_EXAMPLE["bounds"],
        "method": "random",
        "steps": 5,
        "runs": 500,
        "seed": 7,
        "objective": "return_over_drawdown",
        "train_fraction": "0.7",
        "top": 10,
    },
    "status": "queued",
    "progress": 0,
    "error": "",
    "candidates": 500,
    "evaluated": 0,
    "skipped": 0,
    "candles": 0,
    "split_at": None,
    "results": None,
    "created_at": "2026-01-05T10:00:00Z",
    "started_at": None,
    "finished_at": None,
}
SCORE_EXAMPLE = {
    "objective": "1.52",
    "total_return": "0.0418",
    "max_drawdown": "0.0275",
    "return_over_drawdown": "1.52",
    "sharpe": "5.1",
    "grid_profit": "61.2",
    "fees": "9.8",
    "round_trips": 212,
    "fills": 431,
}
OPTIMISATION_DONE_EXAMPLE = {
    **OPTIMISATION_QUEUED_EXAMPLE,
    "status": "done",
    "progress": 100,
    "evaluated": 488,
    "skipped": 12,
    "candles": 8640,
    "split_at": "2023-01-23T00:00:00Z",
    "results": {
        "ranked": [
            {
                "candidate": 311,
                "lower_price": "16104.5",
                "upper_price": "23890.1",
                "grid_count": 64,
                "spacing": "geometric",
                "direction": "long",
                "train": SCORE_EXAMPLE,
                "report": {**SCORE_EXAMPLE, "objective": "0.83", "total_return": "0.0102"},
            }
        ],
        "winner": {"train": DONE_EXAMPLE["metrics"], "report": DONE_EXAMPLE["metrics"], "agrees": True},
    },
    "started_at": "2026-01-05T10:00:01Z",
    "finished_at": "2026-01-05T10:00:09Z",
}


@extend_schema_view(
    list=extend_schema(
        summary="List your optimisations",
        description="Your parameter optimisations, newest first, in cursor pages.",
        responses={200: OptimisationSerializer(many=True), **error_responses(400, *READ_ERRORS)},
        examples=[OpenApiExample("Done", value=OPTIMISATION_DONE_EXAMPLE, response_only=True)],
    ),
    retrieve=extend_schema(
        summary="Read an optimisation",
        description=(
            "Its status and progress (percent); once `done`, the top candidates ranked on the "
            "optimisation part with their figures on the report part, and the winner re-run in exact "
            "mode over both. Ratios and money are strings."
        ),
        responses={200: OptimisationSerializer, **error_responses(*OBJECT_ERRORS)},
        examples=[OpenApiExample("Done", value=OPTIMISATION_DONE_EXAMPLE, response_only=True)],
    ),
)
class OptimisationViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = OptimisationSerializer
    pagination_class = ApiCursorPagination
    queryset = Optimisation.objects.none()  # for the schema's path types; get_queryset scopes to the caller

    def get_queryset(self) -> QuerySet[Optimisation]:
        return Optimisation.objects.owned_by(self.user)

    def get_object(self) -> Optimisation:
        return owned_or_404(self.get_queryset(), self.kwargs["pk"])

    @extend_schema(
        summary="Optimise a grid's parameters",
        description=(
            "Queues a search over the lower and upper price, grid count, spacing and direction within "
            "`bounds` and answers at once (202) with its id. `method` `grid` tries `steps` evenly spaced "
            "values of each bound in every combination; `random` draws `runs` candidates with `seed`. "
            "Candidates the grid's checks refuse are skipped and counted. Each is scored on the first "
            "`train_fraction` of the window and ranked by `objective`; the top `top` are then run on the "
            "rest, which never changes the ranking. A search may try at most BACKTEST_MAX_RUNS grids (the "
            "server's setting): a bigger one is a 400 on `steps` or `runs`. Window checks as for a "
            "backtest. Needs the `trade` scope."
        ),
        request=OptimisationRequestSerializer,
        responses={202: OptimisationSerializer, **RUN_ERRORS},
        examples=[
            OpenApiExample("500 random grids, 30 days", value=OPTIMISE_REQUEST_EXAMPLE, request_only=True),
            OpenApiExample(
                "Queued", value=OPTIMISATION_QUEUED_EXAMPLE, response_only=True, status_codes=["202"]
            ),
        ],
    )
    def create(self, request: Request) -> Response:
        given = OptimisationRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        data = given.validated_data
        try:
            plan = actions.check_optimisation(given.search(), data["interval"], data["start"], data["end"])
        except actions.BacktestError as exc:
            raise _refused(exc) from exc
        optimisation = actions.do_create_optimisation(self.user, plan)
        return Response(OptimisationSerializer(optimisation).data, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        summary="Cancel an optimisation",
        description=(
            "Stops a queued or running optimisation; nothing of it is kept. Cancelling a cancelled one "
            "answers the same; a done or failed one is a 409 `backtest_finished`."
        ),
        request=None,
        responses={200: OptimisationSerializer, **error_responses(*OBJECT_ERRORS, 409)},
        examples=[
            OpenApiExample(
                "Cancelled", value={**OPTIMISATION_QUEUED_EXAMPLE, "status": "cancelled"}, response_only=True
            )
        ],
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request: Request, pk: str) -> Response:
        try:
            optimisation = actions.do_cancel_optimisation(self.get_object())
        except actions.BacktestFinished as exc:
            raise ApiError(409, "backtest_finished", str(exc)) from exc
        return Response(OptimisationSerializer(optimisation).data)
