"""Bots through the API: thin views over `bots.previews` and `bots.actions`, as the pages use."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal
from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import mixins, status
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from accounts.api.errors import OBJECT_ERRORS, READ_ERRORS, ApiError, error_responses, validation_error
from accounts.api.pagination import ApiCursorPagination, OldestFirstTimePagination, TimeCursorPagination
from accounts.api.views import ApiViewSet, owned_or_404
from bots import actions
from bots.api.futures_serializers import (
    BotPositionSerializer,
    FuturesBotWriteSerializer,
    FuturesGridPreviewRequestSerializer,
    FuturesGridPreviewSerializer,
)
from bots.api.serializers import (
    BotEventSerializer,
    BotSerializer,
    BotWriteSerializer,
    DcaBotWriteSerializer,
    DcaPreviewRequestSerializer,
    DcaPreviewSerializer,
    ForceStopResultSerializer,
    PnlSerializer,
    PreviewRequestSerializer,
    PreviewSerializer,
    StartSerializer,
    StopAllResultSerializer,
    StopSerializer,
)
from bots.funds import FundsCheck
from bots.futures_position import NotFutures, check_futures, live_position
from bots.futures_previews import FuturesPreviewResult, check_futures_preview
from bots.models import Bot, BotStatus
from bots.previews import PreviewResult, check_preview
from bots.strategies import dca, futures_grid, registry
from exchanges.base import ExchangeError, RateLimited
from exchanges.models import ExchangeAccount
from trading.api.filters import filter_fills, filter_orders
from trading.api.serializers import (
    EquitySnapshotSerializer,
    FillFilterSerializer,
    FillSerializer,
    OrderFilterSerializer,
    OrderSerializer,
)
from trading.api.views import FILL_EXAMPLE
from trading.pnl import bot_pnl, mark_price

CONFIG_EXAMPLE = {
    "account": 7,
    "symbol": "BTCUSDT",
    "lower_price": "45000",
    "upper_price": "65000",
    "grid_count": 5,
    "spacing": "arithmetic",
    "direction": "long",
    "investment": "1000",
}
DCA_CONFIG_EXAMPLE = {
    "strategy": "dca",
    "account": 7,
    "symbol": "BTCUSDT",
    "base_order_size": "100",
    "safety_order_size": "50",
    "price_deviation": "1",
    "step_scale": "2",
    "volume_scale": "1.5",
    "max_safety_orders": 5,
    "max_active_safety_orders": 2,
    "take_profit": "1.5",
}

FUTURES_CONFIG_EXAMPLE = {
    "strategy": "futures_grid",
    "account": 7,
    "symbol": "BTCUSDT",
    "lower_price": "50000",
    "upper_price": "60000",
    "grid_count": 5,
    "investment": "1000",
    "leverage": "10",
    "mode": "long",
}


def _by_strategy(name: str, grid: Any, dca_shape: Any, *others: Any) -> PolymorphicProxySerializer:
    """A body whose shape depends on `strategy`: a grid's when it is left out or "grid"."""
    return PolymorphicProxySerializer(
        component_name=name, serializers=[grid, dca_shape, *others], resource_type_field_name=None
    )


WRITE_BODY = _by_strategy(
    "BotWriteByStrategy", BotWriteSerializer, DcaBotWriteSerializer, FuturesBotWriteSerializer
)
PARTIAL_WRITE_BODY = _by_strategy(
    "PatchedBotWriteByStrategy",
    BotWriteSerializer(partial=True),
    DcaBotWriteSerializer(partial=True),
    FuturesBotWriteSerializer(partial=True),
)
PREVIEW_BODY = _by_strategy(
    "PreviewRequestByStrategy",
    PreviewRequestSerializer,
    DcaPreviewRequestSerializer,
    FuturesGridPreviewRequestSerializer,
)
PREVIEW_ANSWER = _by_strategy(
    "PreviewByStrategy", PreviewSerializer, DcaPreviewSerializer, FuturesGridPreviewSerializer
)
STRATEGIES = (registry.DEFAULT, dca.DCA.name, futures_grid.NAME)
BOT_EXAMPLE = {
    "id": 4,
    "name": "BTC grid",
    "account": 7,
    "symbol": "BTCUSDT",
    "status": "running",
    "status_reason": "",
    "config": {
        **{k: v for k, v in CONFIG_EXAMPLE.items() if k != "account"},
        "trigger_price": None,
        "take_profit_price": None,
        "take_profit_action": "sell_base",
        "stop_loss_price": "42000",
        "stop_loss_action": "sell_base",
        "max_drawdown": None,
    },
    "run": 1,
    "price_at_creation": "54000",
    "price_at_start": "54000",
    "created_at": "2026-01-05T10:00:00Z",
    "started_at": "2026-01-05T10:00:05Z",
    "stopped_at": None,
}
PREVIEW_EXAMPLE = {
    "symbol": "BTCUSDT",
    "reference_price": "54000",
    "levels": [
        {"price": "45000.0", "side": "buy", "quantity": "0.003773"},
        {"price": "49000.0", "side": "buy", "quantity": "0.003773"},
        {"price": "53000.0", "side": "buy", "quantity": "0.003773"},
        {"price": "57000.0", "side": None, "quantity": None},
        {"price": "61000.0", "side": "sell", "quantity": "0.003773"},
        {"price": "65000.0", "side": "sell", "quantity": "0.003773"},
    ],
    "quantity_per_order": "0.003773",
    "profit_per_grid_min": "0.0594",
    "profit_per_grid_max": "0.0867",
    "min_investment": "36.5",
    "investment_used": "999.8",
    "base_to_buy": "0.007554",
    "base_to_sell": "0",
    "break_even_price": "54054.1",
    "loss_at_stop": "118.2",
    "loss_at_stop_fraction": "0.118",
    "pnl_at_lower": "-118.2",
    "pnl_at_upper": "68.9",
    "pnl_at_stop": None,
    "funds_needed": {"USDT": "1001.81", "BTC": "0"},
    "funds_available": {"USDT": "5000", "BTC": "0"},
    "funds_unknown_reason": "",
    "funds_shortfall": "",
    "warnings": [
        "No stop-loss is set: if the price falls below the range, the bot keeps all the base it bought."
    ],
}
PNL_EXAMPLE = {
    "mark_price": "55000",
    "grid_profit": "12.41",
    "unrealized_pnl": "7.55",
    "fees_quote": "1.93",
    "fees_not_netted": "0",
    "funding": "0",
    "fees_by_asset": {"BTC": "0.0000113", "USDT": "1.31"},
    "total_pnl": "19.96",
    "equity": "1019.96",
    "investment": "1000",
    "roi": "0.01996",
    "apr": "0.42",
    "base_held": "0.011",
    "average_cost": "54054.1",
    "round_trips": 3,
    "buys": 5,
    "sells": 4,
    "profit_factor": None,
}
POSITION_EXAMPLE = {
    "symbol": "BTCUSDT",
    "mode": "long",
    "side": "long",
    "size": "0.074",
    "entry_price": "55000",
    "mark_price": "55400",
    "leverage": "10",
    "liquidation_price": "49786.5",
    "distance_to_liquidation_percent": "10.13",
    "position_margin": "409.23",
    "unrealised_pnl": "29.6",
    "funding": "-0.84",
    "liquidation_stop_distance": "3",
}
# What the view adds to what GridPreview itself provides.
ADDED_FIELDS = ("levels", "symbol", "reference_price")
FUNDS_FIELDS = ("funds_needed", "funds_available", "funds_unknown_reason", "funds_shortfall")
RISK_FIELDS = ("pnl_at_lower", "pnl_at_upper", "pnl_at_stop")
PREVIEW_FIELDS = tuple(
    str(name) for name in PreviewSerializer().fields if name not in ADDED_FIELDS + FUNDS_FIELDS + RISK_FIELDS
)
WRITE_ERRORS = error_responses(400, 401, 403, 404, 409, 422, 429, 502, 503)  # 404: `account`
ACTION_ERRORS = error_responses(*OBJECT_ERRORS, 409, 422)
STOP_EXAMPLE = OpenApiExample("Keep the base", value={"sell_base": False}, request_only=True)
BOT_RESPONSE_EXAMPLE = OpenApiExample("Bot", value=BOT_EXAMPLE, response_only=True)


def _given_config(data: Any, strategy: str) -> tuple[Any, Any]:
    """The write serializer of `strategy`, validated, and the config it reads."""
    if strategy == dca.DCA.name:
        dca_given = DcaBotWriteSerializer(data=data)
        dca_given.is_valid(raise_exception=True)
        return dca_given, dca_given.dca_config()
    if strategy == futures_grid.NAME:
        futures_given = FuturesBotWriteSerializer(data=data)
        futures_given.is_valid(raise_exception=True)
        return futures_given, futures_given.futures_config()
    given = BotWriteSerializer(data=data)
    given.is_valid(raise_exception=True)
    return given, given.grid_config()


def _own_account(user: Any, account_id: int) -> ExchangeAccount:
    account = ExchangeAccount.objects.owned_by(user).filter(pk=account_id).first()
    if account is None:
        message = f"You have no exchange account with id {account_id}."
        raise ApiError(404, "not_found", message, fields={"account": [message]})
    return account


def _strategy_named_in(data: Any, default: str = registry.DEFAULT) -> str:
    """The `strategy` a request names ("grid" when it names none); another is a 400 on the field."""
    name = data.get("strategy", default) if isinstance(data, dict) else default
    if name not in STRATEGIES:
        raise validation_error({"strategy": [f"Use one of: {', '.join(STRATEGIES)}."]})
    return str(name)


def _checked_config(account: ExchangeAccount, config: Any, strategy: str, bot: Bot | None = None) -> Decimal:
    """`strategy`'s checks of `config` on `account`; the price they were made at. A futures grid's
    are made at the perpetual's mark price, with the margin free and its position not taken."""
    if strategy == futures_grid.NAME:
        return actions.check_futures_bot(account, config, exclude=bot).price
    price = actions.check_bot_config(account, config, strategy)
    actions.check_bot_funds(account, config, price, strategy)
    return price


def _dca_preview_body(config: dca.DcaConfig, result: PreviewResult) -> dict[str, Any]:
    preview: dca.DcaPreview = result.preview
    body: dict[str, Any] = {
        "strategy": dca.DCA.name,
        "symbol": config.symbol,
        "reference_price": preview.reference_price,  # a limit base order's price, not the market's
        "base_order_quantity": preview.base_order_quantity,
        "base_take_profit_price": preview.base_take_profit_price,
        "safety_orders": [vars(row) for row in preview.safety_orders],
        "max_funds": preview.max_funds,
        "lowest_price": preview.lowest_price,
        **_funds_fields(result.funds),
        "warnings": [*preview.warnings, *([result.funds.message] if result.funds.short else [])],
    }
    return dict(DcaPreviewSerializer(body).data)


PERCENT_PLACES = Decimal("0.0001")


def _futures_preview_body(
    config: futures_grid.FuturesGridConfig, result: FuturesPreviewResult
) -> dict[str, Any]:
    preview = result.preview
    body: dict[str, Any] = {
        "strategy": futures_grid.NAME,
        "symbol": config.symbol,
        "reference_price": result.price,
        "mode": config.mode.value,
        "leverage": config.leverage,
        "levels": [
            {
                "price": level.price,
                "side": level.side.value if level.side else None,
                "quantity": level.quantity,
                "reduce_only": level.reduce_only,
            }
            for level in preview.levels
        ],
        "quantity_per_order": preview.quantity_per_order,
        "profit_per_grid_min": preview.profit_per_grid_min,
        "profit_per_grid_max": preview.profit_per_grid_max,
        "profit_per_grid_min_percent": _percent(preview.profit_per_grid_min_fraction),
        "profit_per_grid_max_percent": _percent(preview.profit_per_grid_max_fraction),
        "initial_margin": preview.initial_margin,
        "margin_at_start": preview.margin_at_start,
        "position_at_start": preview.position_at_start,
        "maintenance_margin_rate": preview.maintenance_margin_rate,
        "liquidation_price": preview.liquidation_price,
        "liquidation_price_short_side": preview.liquidation_price_short_side,
        "liquidation_price_at_start": preview.liquidation_price_at_start,
        "min_investment": preview.min_investment,
        "warnings": list(preview.warnings),
    }
    return dict(FuturesGridPreviewSerializer(body).data)


def _percent(fraction: Decimal) -> Decimal:
    """A fraction in percent, cut (not rounded up) to four places: a profit is never overstated."""
    return (fraction * 100).quantize(PERCENT_PLACES, rounding=ROUND_DOWN)


def _funds_fields(check: FundsCheck) -> dict[str, Any]:
    return {
        "funds_needed": check.needed,
        "funds_available": check.balances.free if check.balances.known else None,
        "funds_unknown_reason": check.balances.reason,
        "funds_shortfall": check.message,
    }


def _active(do: Any, bot: Bot, **kwargs: Any) -> Any:
    """`do(bot)` for an edit or a delete; a bot that may trade is a 409 `bot_active`."""
    try:
        return do(bot, **kwargs)
    except actions.InvalidTransition as exc:
        raise ApiError(409, "bot_active", str(exc)) from exc


def _transition(do: Any, bot: Bot, **kwargs: Any) -> Bot:
    try:
        return do(bot, **kwargs)
    except actions.InvalidTransition as exc:
        raise ApiError(409, "invalid_transition", str(exc)) from exc


@extend_schema_view(
    list=extend_schema(
        summary="List your bots",
        description="Your bots, newest first, in cursor pages. Filter with `status`.",
        parameters=[OpenApiParameter("status", str, enum=[s.value for s in BotStatus])],
        responses={200: BotSerializer(many=True), **error_responses(400, *READ_ERRORS)},
        examples=[BOT_RESPONSE_EXAMPLE],
    ),
    retrieve=extend_schema(
        summary="Read a bot",
        description="One bot: its status (with the reason when in error) and its settings.",
        responses={200: BotSerializer, **error_responses(*OBJECT_ERRORS)},
        examples=[BOT_RESPONSE_EXAMPLE],
    ),
)
class BotViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, ApiViewSet):
    serializer_class = BotSerializer
    pagination_class = ApiCursorPagination
    queryset = Bot.objects.none()  # for the schema's path types; get_queryset scopes to the caller

    def get_queryset(self) -> QuerySet[Bot]:
        bots = Bot.objects.owned_by(self.user).select_related("exchange_account")
        if self.action == "list" and "status" in self.request.query_params:
            wanted = self.request.query_params["status"]
            if wanted not in BotStatus.values:
                raise validation_error({"status": [f"Use one of: {', '.join(BotStatus.values)}."]})
            bots = bots.filter(status=wanted)
        return bots

    def get_object(self) -> Bot:
        return owned_or_404(self.get_queryset(), self.kwargs["pk"])

    # Settings ----------------------------------------------------------------------

    @extend_schema(
        summary="Preview a grid",
        description=(
            "Lays the grid out without saving anything: the levels (one per price line, low to high, "
            "with the side and quantity each would hold), the quantity per order, the profit per grid "
            "after fees, the minimum investment, the base bought at start and warnings. The numbers are "
            "the wizard page's own (one function computes both). Needs only the `read` scope. Errors name "
            'their field, e.g. `investment` below the venue\'s minimum. `strategy` "dca" previews a DCA '
            'bot; "futures_grid" a grid on a USDT perpetual (leverage, reduce-only levels, margin and '
            "the estimated liquidation price)."
        ),
        request=PREVIEW_BODY,
        responses={200: PREVIEW_ANSWER, **error_responses(400, 401, 403, 404, 429, 502, 503)},
        examples=[
            OpenApiExample(
                "5 grids", value={**CONFIG_EXAMPLE, "reference_price": "54000"}, request_only=True
            ),
            OpenApiExample(
                "DCA, 5 safety orders",
                value={**DCA_CONFIG_EXAMPLE, "reference_price": "54000"},
                request_only=True,
            ),
            OpenApiExample(
                "Futures grid, long 10x",
                value={**FUTURES_CONFIG_EXAMPLE, "reference_price": "55000"},
                request_only=True,
            ),
            OpenApiExample("Preview", value=PREVIEW_EXAMPLE, response_only=True),
        ],
    )
    @action(detail=False, methods=["post"], read_only_post=True)
    def preview(self, request: Request) -> Response:
        strategy = _strategy_named_in(request.data)
        if strategy == dca.DCA.name:
            return self._dca_preview(request)
        if strategy == futures_grid.NAME:
            return self._futures_preview(request)
        given = PreviewRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        account = _own_account(self.user, given.validated_data["account"])
        config = given.grid_config()
        result = check_preview(account, config, given.validated_data.get("reference_price"))
        levels = [
            {
                "price": level.price,
                "side": level.side.value if level.side else None,
                "quantity": level.quantity,
            }
            for level in result.preview.levels
        ]
        body = {name: getattr(result.preview, name) for name in PREVIEW_FIELDS}
        body.update(symbol=config.symbol, reference_price=result.price, levels=levels)
        body.update(_funds_fields(result.funds))
        body.update({name: getattr(result.preview.risk, name) for name in RISK_FIELDS})
        body["warnings"] = [*result.preview.warnings, *([result.funds.message] if result.funds.short else [])]
        return Response(PreviewSerializer(body).data)

    def _dca_preview(self, request: Request) -> Response:
        given = DcaPreviewRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        account = _own_account(self.user, given.validated_data["account"])
        config = given.dca_config()
        reference = given.validated_data.get("reference_price")
        result = check_preview(account, config, reference, strategy=dca.DCA.name)
        return Response(_dca_preview_body(config, result))

    def _futures_preview(self, request: Request) -> Response:
        given = FuturesGridPreviewRequestSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        account = _own_account(self.user, given.validated_data["account"])
        config = given.futures_config()
        result = check_futures_preview(account, config, given.validated_data.get("reference_price"))
        return Response(_futures_preview_body(config, result))

    @extend_schema(
        summary="Create a bot",
        description=(
            "Creates a draft bot after the same checks as the wizard (the venue's filters, minimums, exit "
            "prices, the funds free on the account). Nothing trades until `start`. Send an "
            '`Idempotency-Key` to retry safely. `strategy` "futures_grid" creates a grid on a USDT '
            "perpetual, checked at its mark price: leverage within your cap and the symbol's risk limit, "
            "the margin (`investment`) free in USDT, and no other futures bot of the account starting, "
            "running, stopping or in error on the symbol (they would share one position)."
        ),
        request=WRITE_BODY,
        responses={201: BotSerializer, **WRITE_ERRORS},
        examples=[
            OpenApiExample("BTC grid", value={**CONFIG_EXAMPLE, "name": "BTC grid"}, request_only=True),
            OpenApiExample("BTC DCA", value={**DCA_CONFIG_EXAMPLE, "name": "BTC DCA"}, request_only=True),
            OpenApiExample(
                "BTC futures grid",
                value={**FUTURES_CONFIG_EXAMPLE, "name": "BTC futures", "stop_loss_price": "48000"},
                request_only=True,
            ),
            OpenApiExample("Draft", value={**BOT_EXAMPLE, "status": "draft"}, response_only=True),
        ],
    )
    def create(self, request: Request) -> Response:
        strategy = _strategy_named_in(request.data)
        given, config = _given_config(request.data, strategy)
        account = _own_account(self.user, given.validated_data["account"])
        price = _checked_config(account, config, strategy)
        name = given.validated_data["name"]
        bot = actions.do_create_bot(self.user, account, name, config, price, strategy=strategy)
        return Response(BotSerializer(bot).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Replace a bot's settings",
        description=(
            "Only while the bot is a draft, stopped, or halted by an error before it held an order "
            "(409 `bot_active` otherwise). An errored bot becomes stopped. The next start uses them."
        ),
        request=WRITE_BODY,
        responses={200: BotSerializer, **WRITE_ERRORS, 404: error_responses(404)[404]},
        examples=[
            OpenApiExample("Edit", value={**CONFIG_EXAMPLE, "name": "BTC grid"}, request_only=True),
            OpenApiExample("Edited", value={**BOT_EXAMPLE, "status": "stopped"}, response_only=True),
        ],
    )
    def update(self, request: Request, pk: str) -> Response:
        return self._save(request, partial=False)

    @extend_schema(
        summary="Change some of a bot's settings",
        description="Like PUT, but fields left out keep their values; the same rule on when.",
        request=PARTIAL_WRITE_BODY,
        responses={200: BotSerializer, **WRITE_ERRORS, 404: error_responses(404)[404]},
        examples=[
            OpenApiExample("More grids", value={"grid_count": 8}, request_only=True),
            OpenApiExample("Edited", value={**BOT_EXAMPLE, "status": "stopped"}, response_only=True),
        ],
    )
    def partial_update(self, request: Request, pk: str) -> Response:
        return self._save(request, partial=True)

    def _save(self, request: Request, *, partial: bool) -> Response:
        bot = self.get_object()
        try:
            actions.check_editable(bot)
        except actions.InvalidTransition as exc:
            raise ApiError(409, "bot_active", str(exc)) from exc
        data = request.data if isinstance(request.data, dict) else {}
        if partial:
            data = {**bot.config, "account": bot.exchange_account_id, "name": bot.name, **data}
        if bot.strategy != registry.DEFAULT:
            data = {**data, "strategy": bot.strategy}  # an edit keeps the bot's strategy
        if bot.strategy == dca.DCA.name:
            data.pop("investment", None)  # written for the risk rules, not a setting
        given, config = _given_config(data, bot.strategy)
        account = _own_account(self.user, given.validated_data["account"])
        if bot.strategy == futures_grid.NAME:
            price = actions.check_futures_bot(account, config, exclude=bot).price
        else:
            price = actions.check_bot_config(account, config, bot.strategy)
        bot = _active(
            actions.do_update_bot,
            bot,
            account=account,
            name=given.validated_data["name"],
            config=config,
            price=price,
        )
        return Response(BotSerializer(bot).data)

    @extend_schema(
        summary="Delete a bot",
        description=(
            "Deletes a bot that cannot trade (as PUT) with its history: its orders, fills, event log and "
            "equity leave the trade history and exports. A bot that may hold orders is refused (409)."
        ),
        responses={204: None, **error_responses(*OBJECT_ERRORS, 409, 422)},
    )
    def destroy(self, request: Request, pk: str) -> Response:
        bot = self.get_object()
        _active(actions.do_delete_bot, bot)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # Running -----------------------------------------------------------------------

    @extend_schema(
        summary="Start a bot",
        description=(
            "Starts a draft, stopped or failed bot: a new run lays the grid out at the current price and "
            "buys the base the sell levels need (a futures grid opens its position). Returns at once "
            "with status `starting`. A futures grid "
            "is checked again at the mark price it will be laid out at; when its estimated liquidation "
            "price sits inside its range it starts only with `confirm_liquidation_risk` true (else a 400 "
            "on that field naming the price and the range)."
        ),
        request=StartSerializer,
        responses={200: BotSerializer, **ACTION_ERRORS, 400: error_responses(400)[400]},
        examples=[
            OpenApiExample("Start", value={}, request_only=True),
            OpenApiExample(
                "Start a futures grid whose liquidation sits inside its range",
                value={"confirm_liquidation_risk": True},
                request_only=True,
            ),
            OpenApiExample("Starting", value={**BOT_EXAMPLE, "status": "starting"}, response_only=True),
        ],
    )
    @action(detail=True, methods=["post"])
    def start(self, request: Request, pk: str) -> Response:
        bot = self.get_object()
        given = StartSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        actions.check_start_bot(
            bot, confirm_liquidation_risk=given.validated_data["confirm_liquidation_risk"]
        )
        return Response(BotSerializer(_transition(actions.do_start_bot, bot)).data)

    @extend_schema(
        summary="Stop a bot",
        description="Cancels the bot's orders and, with `sell_base`, sells its base at market.",
        request=StopSerializer,
        responses={200: BotSerializer, **error_responses(400, *OBJECT_ERRORS, 409, 422)},
        examples=[
            STOP_EXAMPLE,
            OpenApiExample("Stopping", value={**BOT_EXAMPLE, "status": "stopping"}, response_only=True),
        ],
    )
    @action(detail=True, methods=["post"])
    def stop(self, request: Request, pk: str) -> Response:
        return self._stop(request, actions.do_stop_bot)

    @extend_schema(
        summary="Emergency-stop a bot",
        description="Stops at once, even mid-tick: nothing more is sent. `sell_base` is optional.",
        request=StopSerializer,
        responses={200: BotSerializer, **error_responses(400, *OBJECT_ERRORS, 409, 422)},
        examples=[
            STOP_EXAMPLE,
            OpenApiExample("Stopping", value={**BOT_EXAMPLE, "status": "stopping"}, response_only=True),
        ],
    )
    @action(detail=True, methods=["post"], url_path="emergency-stop")
    def emergency_stop(self, request: Request, pk: str) -> Response:
        return self._stop(request, actions.do_emergency_stop)

    @extend_schema(
        summary="Force-stop a bot",
        description=(
            "For a bot that is `stopping` or in `error` whose exchange cannot be reached: marks it "
            "`stopped` at once without contacting the exchange. `may_be_open` lists the orders that "
            "may still be open there (price, side, quantity, client order id); Gridwise cancels them "
            "by client order id when the exchange answers again. Any other status is a 409."
        ),
        request=None,
        responses={200: ForceStopResultSerializer, **ACTION_ERRORS},
        examples=[
            OpenApiExample(
                "Force-stopped",
                value={"bot": {**BOT_EXAMPLE, "status": "stopped"}, "may_be_open": []},
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["post"], url_path="force-stop")
    def force_stop(self, request: Request, pk: str) -> Response:
        bot = self.get_object()
        try:
            actions.check_force_stop(bot)
        except actions.InvalidTransition as exc:
            raise ApiError(409, "invalid_transition", str(exc)) from exc
        bot = _transition(actions.do_force_stop, bot)
        result = {"bot": bot, "may_be_open": actions.may_be_open(bot)}
        return Response(ForceStopResultSerializer(result).data)

    def _stop(self, request: Request, do: Any) -> Response:
        bot = self.get_object()
        given = StopSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        return Response(BotSerializer(_transition(do, bot, sell_base=given.validated_data["sell_base"])).data)

    @extend_schema(
        summary="Emergency-stop all your bots",
        description="Emergency-stops every bot of yours that is starting, running or in error.",
        request=StopSerializer,
        responses={200: StopAllResultSerializer, **error_responses(400, 401, 403, 422, 429)},
        examples=[STOP_EXAMPLE, OpenApiExample("Stopped", value={"stopped": [4, 9]}, response_only=True)],
    )
    @action(detail=False, methods=["post"], url_path="stop-all")
    def stop_all(self, request: Request) -> Response:
        given = StopSerializer(data=request.data)
        given.is_valid(raise_exception=True)
        stopped = actions.do_stop_all(self.user, sell_base=given.validated_data["sell_base"])
        return Response({"stopped": [bot.pk for bot in stopped]})

    # Records -----------------------------------------------------------------------

    @extend_schema(
        summary="A bot's orders",
        description="Newest first, in cursor pages; filter with `status` (e.g. `open`).",
        parameters=[OrderFilterSerializer],
        responses={200: OrderSerializer(many=True), **error_responses(400, *OBJECT_ERRORS)},
        examples=[
            OpenApiExample(
                "Open buy",
                value={
                    "id": 88,
                    "client_order_id": "gw4r1-2-0b",
                    "exchange_order_id": "p-551",
                    "symbol": "BTCUSDT",
                    "side": "buy",
                    "order_type": "limit",
                    "price": "53000",
                    "quantity": "0.003773",
                    "filled_quantity": "0",
                    "average_price": None,
                    "status": "open",
                    "purpose": "grid",
                    "reject_reason": "",
                    "created_at": "2026-01-05T10:00:06Z",
                    "updated_at": "2026-01-05T10:00:06Z",
                },
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["get"], pagination_class=ApiCursorPagination)
    def orders(self, request: Request, pk: str) -> Response:
        bot = self.get_object()
        return self._page(filter_orders(bot.orders.all(), request), OrderSerializer)

    @extend_schema(
        summary="A bot's fills",
        description="Newest first, in cursor pages; filter by `symbol`, `side` and time (`since`, `until`).",
        parameters=[FillFilterSerializer],
        responses={200: FillSerializer(many=True), **error_responses(400, *OBJECT_ERRORS)},
        examples=[OpenApiExample("Fill", value=FILL_EXAMPLE, response_only=True)],
    )
    @action(detail=True, methods=["get"], pagination_class=TimeCursorPagination)
    def fills(self, request: Request, pk: str) -> Response:
        bot = self.get_object()
        return self._page(filter_fills(bot.fills.select_related("order"), request), FillSerializer)

    @extend_schema(
        summary="A bot's event log",
        description="Status changes, orders placed and rejected, fills, exits and errors, newest first.",
        responses={200: BotEventSerializer(many=True), **error_responses(400, *OBJECT_ERRORS)},
        examples=[
            OpenApiExample(
                "Started",
                value={
                    "id": 1,
                    "created_at": "2026-01-05T10:00:05Z",
                    "kind": "status",
                    "message": "Starting.",
                    "details": {"status": "starting"},
                },
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["get"], pagination_class=ApiCursorPagination)
    def events(self, request: Request, pk: str) -> Response:
        return self._page(self.get_object().events.all(), BotEventSerializer)

    @extend_schema(
        summary="A bot's equity series",
        description="Equity snapshots, oldest first, in cursor pages (for charts).",
        responses={200: EquitySnapshotSerializer(many=True), **error_responses(400, *OBJECT_ERRORS)},
        examples=[
            OpenApiExample(
                "Snapshot",
                value={
                    "time": "2026-01-05T10:05:00Z",
                    "price": "54100",
                    "equity": "1002.1",
                    "grid_profit": "0",
                    "unrealized_pnl": "2.1",
                },
                response_only=True,
            )
        ],
    )
    @action(detail=True, methods=["get"], pagination_class=OldestFirstTimePagination)
    def equity(self, request: Request, pk: str) -> Response:
        return self._page(self.get_object().equity_snapshots.all(), EquitySnapshotSerializer)

    @extend_schema(
        summary="A bot's profit and loss",
        description=(
            "The ledger valued at the mark price (the paper market's last price, else the latest "
            "snapshot): grid profit, unrealised PnL and fees, with `total_pnl == equity - investment` "
            "and `total_pnl == grid_profit + unrealized_pnl - fees_not_netted` exactly (fees in the "
            "pair's assets are already netted in grid profit and unrealised PnL). 409 until the bot "
            "has started."
        ),
        responses={200: PnlSerializer, **error_responses(*OBJECT_ERRORS, 409)},
        examples=[OpenApiExample("PnL", value=PNL_EXAMPLE, response_only=True)],
    )
    @action(detail=True, methods=["get"])
    def pnl(self, request: Request, pk: str) -> Response:
        bot = self.get_object()
        mark = mark_price(bot)
        summary = bot_pnl(bot, mark)
        if summary is None or mark is None:
            raise ApiError(409, "no_pnl_yet", f"“{bot.name}” has not traded yet: start it first.")
        body: dict[str, Any] = {
            str(name): getattr(summary, str(name)) for name in PnlSerializer().fields if name != "mark_price"
        }
        return Response(PnlSerializer({**body, "mark_price": mark}).data)

    @extend_schema(
        summary="A futures bot's position",
        description=(
            "The position the venue holds now on a futures grid bot's perpetual: side and size, entry, "
            "mark and liquidation prices, the distance from the mark to liquidation in percent, the "
            "position margin and unrealised PnL; with the net `funding` the bot's books counted "
            "(negative: paid) and the settings' `liquidation_stop_distance`. Flat: `side`, "
            '`entry_price`, `liquidation_price` and the distance are null and `size` is "0". A spot '
            "bot holds no position: a 409 (`not_futures`); a venue that cannot answer, a 503."
        ),
        responses={200: BotPositionSerializer, **error_responses(*OBJECT_ERRORS, 409, 503)},
        examples=[OpenApiExample("Long 10x", value=POSITION_EXAMPLE, response_only=True)],
    )
    @action(detail=True, methods=["get"])
    def position(self, request: Request, pk: str) -> Response:
        bot = self.get_object()
        try:
            check_futures(bot)
        except NotFutures as exc:
            raise ApiError(409, "not_futures", str(exc)) from exc
        try:
            found = live_position(bot)
        except RateLimited:
            raise  # config.api answers it with its Retry-After
        except ExchangeError as exc:
            message = exc.message or "The exchange did not answer."
            raise ApiError(
                503, "exchange_unavailable", f"The exchange could not give the position: {message}"
            ) from exc
        body = {**vars(found), "mode": found.mode.value, "side": found.side.value if found.side else None}
        return Response(BotPositionSerializer(body).data)

    def _page(self, queryset: QuerySet[Any], serializer: Any) -> Response:
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer(page, many=True).data)
