"""Backtests through the API: the request (a bot's grid settings, a symbol and a window) and
the results, every amount a string."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.api.fields import StrictCharField, StrictRegexField, amount
from bots import codec
from bots.api.serializers import BotConfigOutSerializer, GridConfigSerializer
from bots.backtests.candles import Window
from bots.backtests.models import Backtest, BacktestFill, BacktestStatus
from bots.strategies import grid
from exchanges.market_data import intervals

SYMBOL_PATTERN = r"^[A-Za-z0-9]{1,32}$"
STRATEGIES = ["grid"]


class BacktestConfigSerializer(GridConfigSerializer):
    """The bot create body's grid fields. `account` and `name` may be sent (a bot's settings
    copied as they are) and are ignored: a backtest trades on no account."""

    account = None  # type: ignore[assignment]
    symbol = StrictRegexField(
        SYMBOL_PATTERN,
        required=False,
        help_text="May be left out; if sent, it must match the outer `symbol`.",
    )


class BacktestRequestSerializer(serializers.Serializer[Any]):
    strategy = serializers.ChoiceField(choices=STRATEGIES, default="grid")
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


class DrawdownSerializer(serializers.Serializer[Any]):
    value = amount(help_text="How far equity fell from its peak, in quote.")
    fraction = amount(help_text="Of the peak: 0.1 is 10%.")
    start = serializers.DateTimeField(allow_null=True, help_text="The peak's candle.")
    end = serializers.DateTimeField(allow_null=True, help_text="The trough's candle.")


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
    sortino = amount(allow_null=True)
    calmar = amount(allow_null=True)
    profit_factor = amount(allow_null=True)
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
    candles = serializers.IntegerField(read_only=True, help_text="How many candles it ran over.")
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
            "candles_missing",
            "metrics",
            "created_at",
            "started_at",
            "finished_at",
        )
        read_only_fields: tuple[str, ...] = fields

    @extend_schema_field(BotConfigOutSerializer)
    def get_config(self, backtest: Backtest) -> dict[str, Any]:
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
