"""Backtests through the API: the request (a bot's grid or DCA settings, a symbol and a window)
and the results, every amount a string."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from accounts.api.fields import ExactDecimalField, StrictCharField, StrictRegexField, amount
from bots import codec
from bots.api.futures_serializers import FuturesGridPreviewRequestSerializer
from bots.api.serializers import (
    BotConfigOutSerializer,
    DcaConfigOutSerializer,
    DcaConfigSerializer,
    GridConfigSerializer,
    price_input,
)
from bots.backtest import optimise
from bots.backtests import actions
from bots.backtests.candles import Window
from bots.backtests.models import Backtest, BacktestFill, BacktestStatus, Optimisation
from bots.strategies import dca, futures_grid, grid
from exchanges.market_data import intervals

SYMBOL_PATTERN = r"^[A-Za-z0-9]{1,32}$"
STRATEGIES = [grid.GRID.name, dca.DCA.name, futures_grid.NAME]
OPTIMISED = [grid.GRID.name]  # the vectorised kernel and the search are the grid's


class BacktestConfigSerializer(GridConfigSerializer):
    """The bot create body's grid fields. `account` and `name` may be sent (a bot's settings
    copied as they are) and are ignored: a backtest trades on no account."""

    account = None  # type: ignore[assignment]
    symbol = StrictRegexField(
        SYMBOL_PATTERN,
        required=False,
        help_text="May be left out; if sent, it must match the outer `symbol`.",
    )


class BacktestDcaConfigSerializer(DcaConfigSerializer):
    """The DCA bot create body's fields. `strategy`, `account` and `name` may be sent (a bot's
    settings copied as they are) and are ignored: the request's own `strategy` names it."""

    strategy = None  # type: ignore[assignment]
    account = None  # type: ignore[assignment]
    symbol = StrictRegexField(
        SYMBOL_PATTERN,
        required=False,
        help_text="May be left out; if sent, it must match the outer `symbol`.",
    )


class BacktestFuturesConfigSerializer(FuturesGridPreviewRequestSerializer):
    """The futures grid preview's fields. `strategy`, `account` and `reference_price` are not
    taken: a backtest trades on no account and starts at the window's first price."""

    strategy = None  # type: ignore[assignment]
    account = None  # type: ignore[assignment]
    reference_price = None  # type: ignore[assignment]
    symbol = StrictRegexField(
        SYMBOL_PATTERN,
        required=False,
        help_text="May be left out; if sent, it must match the outer `symbol`.",
    )


class BacktestRequestSerializer(serializers.Serializer[Any]):
    """A grid backtest's request; `DcaBacktestRequestSerializer` is a DCA bot's."""

    strategy = serializers.ChoiceField(
        choices=[grid.GRID.name],
        default=grid.GRID.name,
        help_text='"grid" (the default); "dca" takes a DCA bot\'s settings, "futures_grid" a futures '
        "grid's.",
        error_messages={"invalid_choice": f"Use one of: {', '.join(STRATEGIES)}."},
    )
    config = BacktestConfigSerializer(help_text="The grid's settings, as for creating a bot.")
    symbol = StrictRegexField(SYMBOL_PATTERN, help_text="e.g. BTCUSDT")
    interval = serializers.ChoiceField(
        choices=list(intervals.WIDTHS), help_text="The candles' interval, e.g. 5m or 1h."
    )
    start = serializers.DateTimeField(help_text="The first candle's open time, included (UTC).")
    end = serializers.DateTimeField(help_text="Candles opening before this time are included (UTC).")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        symbol = attrs["symbol"].upper()
        given = attrs["config"].get("symbol")
        if given is not None and given.upper() != symbol:
            raise serializers.ValidationError(
                {"config": {"symbol": [f"The config names {given.upper()} but the backtest is of {symbol}."]}}
            )
        return {**attrs, "symbol": symbol}

    def grid_config(self) -> grid.GridConfig:
        data = {**self.validated_data["config"], "symbol": self.validated_data["symbol"]}
        data.pop("name", None)
        return codec.config_from_json(data)

    def strategy_config(self) -> actions.BacktestConfig:
        return self.grid_config()


class DcaBacktestRequestSerializer(BacktestRequestSerializer):
    strategy = serializers.ChoiceField(choices=[dca.DCA.name], help_text='"dca".')
    config = BacktestDcaConfigSerializer(  # type: ignore[assignment]
        help_text="The DCA bot's settings, as for creating a DCA bot (percentages in percent)."
    )

    def strategy_config(self) -> dca.DcaConfig:
        data = self.validated_data
        return dca.config_from_json({**data["config"], "symbol": data["symbol"]})


class FuturesBacktestRequestSerializer(BacktestRequestSerializer):
    strategy = serializers.ChoiceField(choices=[futures_grid.NAME], help_text='"futures_grid".')
    config = BacktestFuturesConfigSerializer(  # type: ignore[assignment]
        help_text="The futures grid's settings, as for its preview (POST /api/v1/bots/preview/), "
        "without `account` and `reference_price`."
    )

    def strategy_config(self) -> futures_grid.FuturesGridConfig:
        data = self.validated_data
        return futures_grid.config_from_json({**data["config"], "symbol": data["symbol"]})


def backtest_request(data: Any) -> BacktestRequestSerializer:
    """The request serializer of the strategy `data` names: a DCA bot's fields for "dca", a
    futures grid's for "futures_grid"."""
    named = data.get("strategy") if isinstance(data, dict) else None
    if named == dca.DCA.name:
        return DcaBacktestRequestSerializer(data=data)
    if named == futures_grid.NAME:
        return FuturesBacktestRequestSerializer(data=data)
    return BacktestRequestSerializer(data=data)


BACKTEST_REQUEST_SCHEMA = PolymorphicProxySerializer(
    component_name="BacktestRun",
    serializers={
        grid.GRID.name: BacktestRequestSerializer,
        dca.DCA.name: DcaBacktestRequestSerializer,
        futures_grid.NAME: FuturesBacktestRequestSerializer,
    },
    resource_type_field_name="strategy",
)


class DrawdownSerializer(serializers.Serializer[Any]):
    value = amount(help_text="How far equity fell from its peak, in quote.")
    fraction = amount(help_text="Of the peak: 0.1 is 10%.")
    start = serializers.DateTimeField(allow_null=True, help_text="The peak's candle.")
    end = serializers.DateTimeField(allow_null=True, help_text="The trough's candle.")


class OpenDealSerializer(serializers.Serializer[Any]):
    unrealized = amount(help_text="Its unrealised PnL at the last price, in quote.")
    safety_orders_used = serializers.IntegerField(help_text="Its safety orders filled so far.")


class DealMetricsSerializer(serializers.Serializer[Any]):
    deals_closed = serializers.IntegerField()
    average_duration = serializers.IntegerField(
        allow_null=True,
        help_text="Seconds from a deal's base order to its close, on average, rounded "
        "down; null when no deal closed.",
    )
    max_duration = serializers.IntegerField(
        allow_null=True, help_text="The longest closed deal, in seconds; null when no deal closed."
    )
    max_safety_orders_used = serializers.IntegerField(
        help_text="The most safety orders one deal filled, the open deal included."
    )
    max_floating_drawdown = amount(help_text="The deepest unrealised loss at any close, in quote, positive.")
    open_deal = OpenDealSerializer(allow_null=True, help_text="The deal still open at the end; null if none.")


class StoppedEarlySerializer(serializers.Serializer[Any]):
    reason = StrictCharField(help_text="Why, in a trader's words, with the amounts.")
    time = serializers.DateTimeField(help_text="The open time of the candle it happened in.")
    price = amount(help_text="The price where the path stood.")


class FuturesPositionSerializer(serializers.Serializer[Any]):
    side = StrictCharField(allow_null=True, help_text='"long" or "short"; null: flat (or liquidated).')
    size = amount(help_text="In the base asset.")
    margin = amount(help_text="The isolated position margin, in USDT.")


class FuturesMetricsSerializer(serializers.Serializer[Any]):
    mode = serializers.ChoiceField(choices=[m.value for m in futures_grid.Mode])
    leverage = amount()
    quantity_per_order = amount(help_text="In the base asset, the same at every level.")
    fees = amount(help_text="Every trading fee, in USDT (taker at the start, maker on the levels).")
    funding_paid = amount(help_text="Funding the position paid, in USDT, positive.")
    funding_received = amount(help_text="Funding the position received, in USDT.")
    funding_rate_assumed = amount(
        help_text="The funding rate per 8 hours the run assumed at every 00:00, 08:00 and 16:00 UTC "
        "(0.0001 is 0.01%): no funding history ships, so it is a constant, Bybit's formula with a "
        "zero premium."
    )
    funding_source = serializers.ChoiceField(choices=["assumed"], help_text='Always "assumed" for now.')
    funding_settlements = serializers.IntegerField(help_text="Funding times a position was held across.")
    liquidated_at = serializers.DateTimeField(
        allow_null=True,
        help_text="The open time of the candle the position was liquidated in; null if never.",
    )
    liquidation_price = amount(allow_null=True, help_text="The mark that reached the liquidation price.")
    bankruptcy_price = amount(allow_null=True, help_text="Where the liquidated position closed.")
    margin_lost = amount(help_text="The position margin lost to the liquidation, in USDT; 0 if none.")
    peak_notional = amount(help_text="The largest position value held (size x average entry), in USDT.")
    max_leverage_used = amount(help_text="peak_notional / investment, rounded up to 0.01.")
    position = FuturesPositionSerializer(help_text="The position at the end.")


class BacktestMetricsSerializer(serializers.Serializer[Any]):
    total_return = amount(help_text="total_pnl / investment, a fraction.")
    apr = amount(allow_null=True, help_text="The total return scaled to a year, simple.")
    grid_profit = amount()
    unrealized = amount()
    fees = amount(help_text="Every fee, valued in quote at the last close.")
    total_pnl = amount(help_text="equity - investment.")
    max_drawdown = DrawdownSerializer()
    max_floating_drawdown = amount(help_text="The deepest unrealised loss at any close, in quote.")
    max_floating_drawdown_fraction = amount()
    sharpe = amount(allow_null=True, help_text="Daily returns, annualised; null when undefined.")
    sortino = amount(allow_null=True, help_text="Daily downside risk, annualised; null when undefined.")
    calmar = amount(allow_null=True, help_text="APR over the max drawdown fraction; null when undefined.")
    profit_factor = amount(allow_null=True)
    notes = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="Why each null ratio (sharpe, sortino, calmar, profit_factor) is undefined, in words.",
    )
    round_trips = serializers.IntegerField()
    fills = serializers.IntegerField()
    time_in_range = amount(help_text="The share of candles closing within the grid's range.")
    buy_and_hold_return = amount(help_text="The price's return over the window, without fees.")
    investment = amount()
    equity = amount(help_text="At the last close.")
    started_at = serializers.DateTimeField(
        allow_null=True, help_text="When the grid started; null if its trigger price never came."
    )
    start_price = amount(allow_null=True)
    first_price = amount(help_text="The first candle's open.")
    last_price = amount(help_text="The last candle's close.")
    stopped_early = StoppedEarlySerializer(
        required=False,
        allow_null=True,
        help_text="Where the bot would have stopped in error, as the live one does (a DCA deal it "
        "could no longer fund); the figures are up to that moment. null when it ran to the end.",
    )
    deals = DealMetricsSerializer(
        required=False, allow_null=True, help_text="A DCA backtest's deals; null for a grid's."
    )
    futures = FuturesMetricsSerializer(
        required=False,
        allow_null=True,
        help_text="A futures grid backtest's funding, liquidation and position; absent for others. "
        "The mark price is the candles' price; grid_profit is the round trips' PnL, unrealized the "
        "open entries' at the last price, and total_pnl = grid_profit + unrealized - fees - "
        "funding_paid + funding_received - margin_lost.",
    )


class EquityPointSerializer(serializers.Serializer[Any]):
    time = serializers.DateTimeField(help_text="The candle's open time; the values are at its close.")
    price = amount()
    equity = amount()
    unrealized = amount()


class BacktestSerializer(serializers.ModelSerializer[Backtest]):
    config = serializers.SerializerMethodField()
    metrics = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=BacktestStatus.choices, read_only=True)
    progress = serializers.IntegerField(read_only=True, help_text="Percent, 0 to 100.")
    error = StrictCharField(read_only=True, help_text="Why it failed; empty otherwise.")
    candles = serializers.IntegerField(
        read_only=True, help_text="How many candles it runs over; 0 until they are read."
    )
    candles_done = serializers.IntegerField(read_only=True, help_text="Candles simulated so far.")
    candles_missing = serializers.SerializerMethodField(
        help_text="Candles of the window the store lacks (gaps, or a series that starts or ends inside "
        "it): the run went over them as if the price had jumped. 0 until done."
    )

    class Meta:
        model = Backtest
        fields: tuple[str, ...] = (
            "id",
            "strategy",
            "symbol",
            "interval",
            "start",
            "end",
            "config",
            "status",
            "progress",
            "error",
            "candles",
            "candles_done",
            "candles_missing",
            "metrics",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields: tuple[str, ...] = fields

    @extend_schema_field(
        PolymorphicProxySerializer(
            component_name="BacktestConfig",
            serializers=[BotConfigOutSerializer, DcaConfigOutSerializer, BacktestFuturesConfigSerializer],
            resource_type_field_name=None,
        )
    )
    def get_config(self, backtest: Backtest) -> dict[str, Any]:
        """The grid's settings; a DCA backtest's (`strategy` "dca") are a DCA bot's, a futures
        grid's (`strategy` "futures_grid") its preview's fields."""
        if backtest.strategy == futures_grid.NAME:
            return dict(BacktestFuturesConfigSerializer(futures_grid.config_from_json(backtest.config)).data)
        if backtest.strategy == dca.DCA.name:
            return dict(DcaConfigOutSerializer(dca.config_from_json(backtest.config)).data)
        return dict(BotConfigOutSerializer(codec.config_from_json(backtest.config)).data)

    def get_candles_missing(self, backtest: Backtest) -> int:
        if backtest.status != BacktestStatus.DONE:
            return 0
        return Window.of(backtest.interval, backtest.start, backtest.end).size - backtest.candles

    @extend_schema_field(BacktestMetricsSerializer(allow_null=True))
    def get_metrics(self, backtest: Backtest) -> dict[str, Any] | None:
        if backtest.metrics is None:
            return None
        return dict(BacktestMetricsSerializer(backtest.metrics).data)


class BacktestDetailSerializer(BacktestSerializer):
    equity = serializers.SerializerMethodField()

    class Meta(BacktestSerializer.Meta):
        fields = (*BacktestSerializer.Meta.fields, "equity")
        read_only_fields = fields

    @extend_schema_field(EquityPointSerializer(many=True))
    def get_equity(self, backtest: Backtest) -> list[Any]:
        """At most 1,000 points, evenly thinned, the last close always among them; empty until done."""
        return list(EquityPointSerializer(backtest.equity or [], many=True).data)


class BacktestFillSerializer(serializers.ModelSerializer[BacktestFill]):
    price = amount()
    quantity = amount()
    fee = amount()
    interval = serializers.IntegerField(
        allow_null=True, read_only=True, help_text="The grid interval; null for the start trade."
    )

    class Meta:
        model = BacktestFill
        fields = (
            "id",
            "time",
            "leg",
            "side",
            "price",
            "quantity",
            "fee",
            "fee_asset",
            "is_maker",
            "interval",
            "cycle",
        )
        read_only_fields = fields


# Parameter optimisation ---------------------------------------------------------------------------


class PriceRangeSerializer(serializers.Serializer[Any]):
    min = price_input(help_text="The smallest value tried; above zero.")
    max = price_input(help_text="The largest value tried.")

    def validate_min(self, value: Decimal) -> Decimal:
        if value <= 0:
            raise serializers.ValidationError("Prices must be above zero.")
        return value


class CountRangeSerializer(serializers.Serializer[Any]):
    min = serializers.IntegerField(min_value=grid.MIN_GRIDS, max_value=grid.MAX_GRIDS)
    max = serializers.IntegerField(min_value=grid.MIN_GRIDS, max_value=grid.MAX_GRIDS)


class BoundsSerializer(serializers.Serializer[Any]):
    lower_price = PriceRangeSerializer()
    upper_price = PriceRangeSerializer()
    grid_count = CountRangeSerializer()
    spacings = serializers.ListField(
        child=serializers.ChoiceField(choices=[s.value for s in grid.Spacing]),
        min_length=1,
        max_length=len(grid.Spacing),
        default=[grid.Spacing.ARITHMETIC.value],
    )
    directions = serializers.ListField(
        child=serializers.ChoiceField(choices=[d.value for d in grid.Direction]),
        min_length=1,
        max_length=len(grid.Direction),
        default=[grid.Direction.LONG.value],
    )


class OptimisationRequestSerializer(serializers.Serializer[Any]):
    strategy = serializers.ChoiceField(
        choices=STRATEGIES, default=grid.GRID.name, help_text='"grid" only: searches are of grids.'
    )
    symbol = StrictRegexField(SYMBOL_PATTERN, help_text="e.g. BTCUSDT")
    interval = serializers.ChoiceField(choices=list(intervals.WIDTHS))
    start = serializers.DateTimeField(help_text="The first candle's open time, included (UTC).")
    end = serializers.DateTimeField(help_text="Candles opening before this time are included (UTC).")
    investment = price_input(help_text="Every candidate's investment, in the quote asset.")
    trigger_price = price_input(required=False, allow_null=True, help_text="Every candidate's trigger.")
    bounds = BoundsSerializer()
    method = serializers.ChoiceField(choices=[m.value for m in optimise.Method], default="grid")
    steps = serializers.IntegerField(
        min_value=1, max_value=100, default=5, help_text="grid: values tried per bound (prices and count)."
    )
    runs = serializers.IntegerField(
        min_value=1, max_value=1_000_000, default=100, help_text="random: candidates drawn."
    )
    seed = serializers.IntegerField(
        min_value=0, max_value=2**31 - 1, default=0, help_text="random: the seed; equal seeds, equal draws."
    )
    objective = serializers.ChoiceField(choices=[o.value for o in optimise.Objective], default="total_return")
    train_fraction = ExactDecimalField(
        max_digits=4,
        decimal_places=3,
        min_value=Decimal("0.1"),
        max_value=Decimal("0.95"),
        default=Decimal("0.7"),
        help_text="The share of the window the search optimises on; the rest reports the top.",
    )
    top = serializers.IntegerField(min_value=1, max_value=50, default=10, help_text="How many to report.")

    def validate_strategy(self, value: str) -> str:
        if value == futures_grid.NAME:
            raise serializers.ValidationError(
                "Optimisation searches spot grids only; backtest a futures grid's settings one at a "
                'time with POST /api/v1/backtests/ and "strategy": "futures_grid".'
            )
        if value not in OPTIMISED:
            raise serializers.ValidationError(
                "Optimisation searches grids only; backtest a DCA bot's settings one at a time with "
                "POST /api/v1/backtests/."
            )
        return value

    def validate_investment(self, value: Decimal) -> Decimal:
        if value <= 0:
            raise serializers.ValidationError("The investment must be above zero.")
        return value

    def validate_trigger_price(self, value: Decimal | None) -> Decimal | None:
        if value is not None and value <= 0:
            raise serializers.ValidationError("The trigger price must be above zero.")
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        return {**attrs, "symbol": attrs["symbol"].upper()}

    def search(self) -> optimise.Search:
        data = self.validated_data
        bounds = data["bounds"]
        return actions.grid_search(
            data["symbol"],
            data["investment"],
            data.get("trigger_price"),
            optimise.Bounds(
                lower_price=(bounds["lower_price"]["min"], bounds["lower_price"]["max"]),
                upper_price=(bounds["upper_price"]["min"], bounds["upper_price"]["max"]),
                grid_count=(bounds["grid_count"]["min"], bounds["grid_count"]["max"]),
                spacings=tuple(dict.fromkeys(grid.Spacing(s) for s in bounds["spacings"])),
                directions=tuple(dict.fromkeys(grid.Direction(d) for d in bounds["directions"])),
            ),
            method=optimise.Method(data["method"]),
            steps=data["steps"],
            runs=data["runs"],
            seed=data["seed"],
            objective=optimise.Objective(data["objective"]),
            train_fraction=data["train_fraction"],
            top=data["top"],
        )


class CandidateScoreSerializer(serializers.Serializer[Any]):
    objective = amount(allow_null=True, help_text="The figure ranked on; null when undefined or unbounded.")
    total_return = amount(help_text="A fraction of the investment.")
    max_drawdown = amount(help_text="The deepest fall from a peak, a fraction of it.")
    return_over_drawdown = amount(allow_null=True, help_text="Null when equity never fell.")
    sharpe = amount(allow_null=True, help_text="Daily, annualised; null when undefined.")
    grid_profit = amount()
    fees = amount()
    round_trips = serializers.IntegerField()
    fills = serializers.IntegerField()


class RankedCandidateSerializer(serializers.Serializer[Any]):
    candidate = serializers.IntegerField(help_text="Its place in the search.")
    lower_price = amount()
    upper_price = amount()
    grid_count = serializers.IntegerField()
    spacing = serializers.ChoiceField(choices=[s.value for s in grid.Spacing])
    direction = serializers.ChoiceField(choices=[d.value for d in grid.Direction])
    train = CandidateScoreSerializer(help_text="Over the optimisation part: what it was ranked by.")
    report = CandidateScoreSerializer(
        allow_null=True, help_text="A fresh run over the report part; null if it cannot run there."
    )


class WinnerSerializer(serializers.Serializer[Any]):
    train = BacktestMetricsSerializer(help_text="Exact mode over the optimisation part.")
    report = BacktestMetricsSerializer(allow_null=True, help_text="Exact mode over the report part.")
    agrees = serializers.BooleanField(help_text="Exact mode's total return equals the search's.")


class OptimisationResultsSerializer(serializers.Serializer[Any]):
    ranked = RankedCandidateSerializer(many=True, help_text="The top candidates, best first.")
    winner = WinnerSerializer()


class OptimisationSearchOutSerializer(serializers.Serializer[Any]):
    investment = amount()
    trigger_price = amount(allow_null=True)
    bounds = BoundsSerializer()
    method = serializers.ChoiceField(choices=[m.value for m in optimise.Method])
    steps = serializers.IntegerField()
    runs = serializers.IntegerField()
    seed = serializers.IntegerField()
    objective = serializers.ChoiceField(choices=[o.value for o in optimise.Objective])
    train_fraction = amount()
    top = serializers.IntegerField()


class OptimisationSerializer(serializers.ModelSerializer[Optimisation]):
    search = serializers.SerializerMethodField()
    results = serializers.SerializerMethodField()
    status = serializers.ChoiceField(choices=BacktestStatus.choices, read_only=True)
    progress = serializers.IntegerField(read_only=True, help_text="Percent, 0 to 100.")
    error = StrictCharField(read_only=True, help_text="Why it failed; empty otherwise.")
    candidates = serializers.IntegerField(read_only=True, help_text="Grids the search tries.")
    evaluated = serializers.IntegerField(
        read_only=True, help_text="Grids scored so far (counted as each chunk of them ends)."
    )
    skipped = serializers.IntegerField(
        read_only=True, help_text="Grids the venue's checks refused or that ran out of funds, so far."
    )
    split_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="The report part's first candle; null until done."
    )

    class Meta:
        model = Optimisation
        fields = (
            "id",
            "symbol",
            "interval",
            "start",
            "end",
            "search",
            "status",
            "progress",
            "error",
            "candidates",
            "evaluated",
            "skipped",
            "candles",
            "split_at",
            "results",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields = fields

    @extend_schema_field(OptimisationSearchOutSerializer)
    def get_search(self, optimisation: Optimisation) -> dict[str, Any]:
        stored = optimisation.search
        bounds = stored["bounds"]
        shown = {
            **stored,
            "investment": stored["config"]["investment"],
            "trigger_price": stored["config"].get("trigger_price"),
            "bounds": {
                **bounds,
                **{
                    name: {"min": bounds[name][0], "max": bounds[name][1]}
                    for name in ("lower_price", "upper_price", "grid_count")
                },
            },
        }
        return dict(OptimisationSearchOutSerializer(shown).data)

    @extend_schema_field(OptimisationResultsSerializer(allow_null=True))
    def get_results(self, optimisation: Optimisation) -> dict[str, Any] | None:
        if optimisation.results is None:
            return None
        return dict(OptimisationResultsSerializer(optimisation.results).data)
