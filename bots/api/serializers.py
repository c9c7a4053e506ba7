from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema_field
from rest_framework import serializers

from accounts.api.fields import (
    ExactDecimalField,
    StrictBooleanField,
    StrictCharField,
    StrictRegexField,
    amount,
)
from bots import codec
from bots.models import Bot, BotEvent
from bots.strategies import dca, futures_grid, grid
from trading.api.serializers import SIDE_CHOICES, OrderSerializer


def price_input(**kwargs: Any) -> serializers.DecimalField:
    """A price or amount as the API accepts it: 20 digits before the point, 12 after."""
    return ExactDecimalField(max_digits=32, decimal_places=12, min_value=Decimal(0), **kwargs)


MAX_ID = 2**63 - 1


class GridConfigSerializer(serializers.Serializer[Any]):
    """A grid's settings. Every rule beyond the types is the strategy's own (`GridConfigError`)."""

    account = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="An exchange account id.")
    symbol = StrictRegexField(r"^[A-Za-z0-9]{1,32}$", help_text="e.g. BTCUSDT")
    lower_price = price_input()
    upper_price = price_input()
    grid_count = serializers.IntegerField(min_value=grid.MIN_GRIDS, max_value=grid.MAX_GRIDS)
    investment = price_input(help_text="In the quote asset, e.g. USDT.")
    spacing = serializers.ChoiceField(
        choices=[s.value for s in grid.Spacing], default=grid.Spacing.ARITHMETIC
    )
    direction = serializers.ChoiceField(
        choices=[d.value for d in grid.Direction],
        default=grid.Direction.LONG,
        help_text="long: buy low, sell high, accumulating quote. short: a reverse grid accumulating base.",
    )
    trigger_price = price_input(required=False, allow_null=True)
    take_profit_price = price_input(required=False, allow_null=True)
    take_profit_action = serializers.ChoiceField(
        choices=[a.value for a in grid.ExitAction], default=grid.ExitAction.SELL_BASE
    )
    stop_loss_price = price_input(required=False, allow_null=True)
    stop_loss_action = serializers.ChoiceField(
        choices=[a.value for a in grid.ExitAction], default=grid.ExitAction.SELL_BASE
    )
    max_drawdown = ExactDecimalField(
        max_digits=8,
        decimal_places=6,
        required=False,
        allow_null=True,
        help_text="A fraction of the investment, e.g. 0.2 stops the bot after a 20% drawdown.",
    )

    def grid_config(self) -> grid.GridConfig:
        data = dict(self.validated_data)
        data.pop("account")
        data.pop("reference_price", None)
        data.pop("name", None)
        data["symbol"] = data["symbol"].upper()
        return codec.config_from_json(data)


class PreviewRequestSerializer(GridConfigSerializer):
    reference_price = price_input(
        required=False,
        allow_null=True,
        help_text="Lay the grid out at this price; default: the live price.",
    )


class BotWriteSerializer(GridConfigSerializer):
    name = StrictCharField(max_length=80)


def percent_input(**kwargs: Any) -> serializers.DecimalField:
    """A percentage as a plain number in percent: "1" is 1%."""
    return ExactDecimalField(max_digits=16, decimal_places=8, min_value=Decimal(0), **kwargs)


class DcaConfigSerializer(serializers.Serializer[Any]):
    """A DCA bot's settings. Percentages are in percent ("1" is 1%); sizes in the quote asset.
    Every rule beyond the types is the strategy's own (`bots.strategies.dca.validate`)."""

    strategy = serializers.ChoiceField(choices=["dca"], help_text='"dca".')
    account = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="An exchange account id.")
    symbol = StrictRegexField(r"^[A-Za-z0-9]{1,32}$", help_text="e.g. BTCUSDT")
    direction = serializers.ChoiceField(
        choices=[d.value for d in dca.Direction],
        default=dca.Direction.LONG,
        help_text="long: buy dips, sell higher. short (spot): sell base the account holds, buy back lower.",
    )
    base_order_size = price_input(help_text="The first order of a deal, in the quote asset.")
    base_order_type = serializers.ChoiceField(
        choices=[t.value for t in dca.BaseOrderType],
        default=dca.BaseOrderType.MARKET,
        help_text="market: the deal opens at once. limit: the base order rests one tick below the price "
        "(above, short) and the deal opens once it has filled.",
    )
    safety_order_size = price_input(help_text="The first safety order, in the quote asset.")
    price_deviation = percent_input(help_text="Percent from the base order to the first safety order.")
    step_scale = ExactDecimalField(
        max_digits=12,
        decimal_places=6,
        min_value=Decimal(0),
        default=Decimal(1),
        help_text="Each step to the next safety order is this times the last; 1 keeps them even.",
    )
    volume_scale = ExactDecimalField(
        max_digits=12,
        decimal_places=6,
        min_value=Decimal(0),
        default=Decimal(1),
        help_text="Each safety order is this times the last in size; 1 keeps them equal.",
    )
    max_safety_orders = serializers.IntegerField(min_value=1, max_value=dca.MAX_SAFETY_ORDERS)
    max_active_safety_orders = serializers.IntegerField(
        min_value=1,
        max_value=dca.MAX_SAFETY_ORDERS,
        required=False,
        allow_null=True,
        help_text="How many rest on the book at once; null: all of them.",
    )
    take_profit = percent_input(help_text="Percent above the average entry (below, short).")
    take_profit_on = serializers.ChoiceField(
        choices=[t.value for t in dca.TakeProfitOn],
        default=dca.TakeProfitOn.TOTAL,
        help_text="total: the target is a percentage of everything bought; base: of the base order only.",
    )
    trailing_deviation = percent_input(
        required=False,
        allow_null=True,
        help_text="Once the take profit is reached, follow the price and close on a reversal this large.",
    )
    stop_loss = percent_input(required=False, allow_null=True, help_text="Percent below the average entry.")
    breakeven_after = serializers.IntegerField(
        min_value=1,
        max_value=dca.MAX_SAFETY_ORDERS,
        required=False,
        allow_null=True,
        help_text="After safety order k fills and the price is back above the average entry, the stop "
        "moves to the average entry.",
    )
    start_condition = serializers.ChoiceField(
        choices=[c.value for c in dca.StartCondition], default=dca.StartCondition.IMMEDIATELY
    )
    start_price = price_input(required=False, allow_null=True, help_text='For start_condition "price".')
    cooldown = serializers.IntegerField(
        min_value=0,
        max_value=365 * 86400,
        required=False,
        allow_null=True,
        help_text='Seconds after a deal closes, for start_condition "cooldown".',
    )
    max_deals = serializers.IntegerField(
        min_value=1, max_value=1_000_000, required=False, allow_null=True, help_text="null: deals repeat."
    )

    def dca_config(self) -> dca.DcaConfig:
        data = dict(self.validated_data)
        for extra in ("account", "reference_price", "name", "strategy"):
            data.pop(extra, None)
        data["symbol"] = data["symbol"].upper()
        return dca.config_from_json(data)


class DcaPreviewRequestSerializer(DcaConfigSerializer):
    reference_price = price_input(
        required=False, allow_null=True, help_text="Open the deal at this price; default: the live price."
    )


class DcaBotWriteSerializer(DcaConfigSerializer):
    name = StrictCharField(max_length=80)


class SafetyOrderSerializer(serializers.Serializer[Any]):
    number = serializers.IntegerField()
    deviation = amount(help_text="Cumulative percent from the base order's price.")
    price = amount()
    size = amount(help_text="In the quote asset.")
    quantity = amount(help_text="In the base asset, at the lot step.")
    total_size = amount(help_text="The base order and safety orders 1..n, in the quote asset.")
    average_price = amount(help_text="The average entry once this safety order has filled (no fees).")
    take_profit_price = amount()
    rebound = amount(help_text="Percent the price must move back from this order to the take profit.")


class DcaPreviewSerializer(serializers.Serializer[Any]):
    strategy = StrictCharField()
    symbol = StrictCharField()
    reference_price = amount(help_text="The base order's price.")
    base_order_quantity = amount()
    base_take_profit_price = amount(help_text="The take profit if no safety order fills.")
    safety_orders = SafetyOrderSerializer(many=True)
    max_funds = amount(help_text="The most one deal spends: the base order and every safety order.")
    lowest_price = amount(help_text="The last safety order's price (the highest, short).")
    funds_needed = serializers.DictField(child=amount())
    funds_available = serializers.DictField(child=amount(), allow_null=True)
    funds_unknown_reason = StrictCharField()
    funds_shortfall = StrictCharField()
    warnings = serializers.ListField(child=StrictCharField())


class PreviewLevelSerializer(serializers.Serializer[Any]):
    price = amount()
    side = serializers.ChoiceField(choices=SIDE_CHOICES, allow_null=True, help_text="null: the empty line.")
    quantity = amount(allow_null=True)


class PreviewSerializer(serializers.Serializer[Any]):
    symbol = StrictCharField()
    reference_price = amount(help_text="The price the grid was laid out at.")
    levels = PreviewLevelSerializer(many=True, help_text="One per price line, low to high.")
    quantity_per_order = amount()
    profit_per_grid_min = amount(help_text="A fraction after fees: 0.0123 is 1.23%.")
    profit_per_grid_max = amount()
    min_investment = amount()
    investment_used = amount()
    base_to_buy = amount()
    base_to_sell = amount()
    break_even_price = amount(allow_null=True)
    loss_at_stop = amount(
        help_text="Quote lost at the stop-loss, or at the lower bound without one; 0 if none."
    )
    loss_at_stop_fraction = amount()
    pnl_at_lower = amount(
        help_text="Profit (or loss, negative) in quote, fees included, if the price goes straight to "
        "the lower bound from the reference price: every order on the way fills."
    )
    pnl_at_upper = amount(help_text="The same at the upper bound.")
    pnl_at_stop = amount(
        allow_null=True,
        help_text="The same at the stop-loss, after the exit (selling the base at market if so set); "
        "null without a stop-loss.",
    )
    funds_needed = serializers.DictField(
        child=amount(),
        help_text="By asset, what the account must hold free to start (the start trade's slippage included).",
    )
    funds_available = serializers.DictField(
        child=amount(),
        allow_null=True,
        help_text="By asset, what the account holds free now; null when the exchange did not answer in time.",
    )
    funds_unknown_reason = StrictCharField(help_text="Why `funds_available` is null; empty otherwise.")
    funds_shortfall = StrictCharField(
        help_text="Empty when the account can fund the grid; otherwise what is missing, in words."
    )
    warnings = serializers.ListField(child=StrictCharField())


class BotConfigOutSerializer(serializers.Serializer[Any]):
    symbol = StrictCharField()
    lower_price = amount()
    upper_price = amount()
    grid_count = serializers.IntegerField()
    investment = amount()
    spacing = StrictCharField()
    direction = StrictCharField()
    trigger_price = amount(allow_null=True)
    take_profit_price = amount(allow_null=True)
    take_profit_action = StrictCharField()
    stop_loss_price = amount(allow_null=True)
    stop_loss_action = StrictCharField()
    max_drawdown = amount(allow_null=True)


class DcaConfigOutSerializer(serializers.Serializer[Any]):
    symbol = StrictCharField()
    direction = StrictCharField()
    base_order_size = amount()
    base_order_type = StrictCharField()
    safety_order_size = amount()
    price_deviation = amount()
    step_scale = amount()
    volume_scale = amount()
    max_safety_orders = serializers.IntegerField()
    max_active_safety_orders = serializers.IntegerField(allow_null=True)
    take_profit = amount()
    take_profit_on = StrictCharField()
    trailing_deviation = amount(allow_null=True)
    stop_loss = amount(allow_null=True)
    breakeven_after = serializers.IntegerField(allow_null=True)
    start_condition = StrictCharField()
    start_price = amount(allow_null=True)
    cooldown = serializers.IntegerField(allow_null=True)
    max_deals = serializers.IntegerField(allow_null=True)


class FuturesGridConfigOutSerializer(serializers.Serializer[Any]):
    symbol = StrictCharField()
    mode = StrictCharField()
    leverage = amount()
    lower_price = amount()
    upper_price = amount()
    grid_count = serializers.IntegerField()
    investment = amount(help_text="The margin, in USDT.")
    spacing = StrictCharField()
    trigger_price = amount(allow_null=True)
    take_profit_price = amount(allow_null=True)
    stop_loss_price = amount(allow_null=True)
    liquidation_stop_distance = amount(allow_null=True, help_text="Percent; null: no automatic stop.")
    take_profit_percent = amount(allow_null=True, help_text="Percent of the margin made; null: none.")
    stop_loss_percent = amount(allow_null=True, help_text="Percent of the margin lost; null: none.")


class BotSerializer(serializers.ModelSerializer[Bot]):
    account = serializers.IntegerField(source="exchange_account_id")
    config = serializers.SerializerMethodField()
    price_at_creation = amount(allow_null=True)
    price_at_start = amount(allow_null=True)

    class Meta:
        model = Bot
        fields = (
            "id",
            "name",
            "account",
            "symbol",
            "strategy",
            "status",
            "status_reason",
            "config",
            "run",
            "price_at_creation",
            "price_at_start",
            "created_at",
            "started_at",
            "stopped_at",
        )
        read_only_fields = fields

    @extend_schema_field(
        PolymorphicProxySerializer(
            component_name="BotConfigByStrategy",
            serializers=[BotConfigOutSerializer, DcaConfigOutSerializer, FuturesGridConfigOutSerializer],
            resource_type_field_name=None,
        )
    )
    def get_config(self, bot: Bot) -> dict[str, Any]:
        """The grid's settings; a DCA bot's (`strategy` "dca") are DcaConfigOutSerializer's, a
        futures grid's FuturesGridConfigOutSerializer's."""
        if bot.strategy == dca.DCA.name:
            return dict(DcaConfigOutSerializer(bot.strategy_config).data)
        if bot.strategy == futures_grid.NAME:
            return dict(FuturesGridConfigOutSerializer(bot.strategy_config).data)
        return dict(BotConfigOutSerializer(bot.grid_config).data)


class StartSerializer(serializers.Serializer[Any]):
    confirm_liquidation_risk = StrictBooleanField(
        default=False,
        help_text="A futures grid whose estimated liquidation price sits inside its range starts only "
        "with true: the trader accepts the risk. true or false only.",
    )


class StopSerializer(serializers.Serializer[Any]):
    sell_base = StrictBooleanField(
        default=False, help_text="Sell the bot's base asset at market. true or false only."
    )


class StopAllResultSerializer(serializers.Serializer[Any]):
    stopped = serializers.ListField(
        child=serializers.IntegerField(), help_text="Ids of the bots told to stop."
    )


class ForceStopResultSerializer(serializers.Serializer[Any]):
    bot = BotSerializer()
    may_be_open = OrderSerializer(
        many=True,
        help_text="Orders that may still be open on the venue; Gridwise cancels them when it answers.",
    )


class BotEventSerializer(serializers.ModelSerializer[BotEvent]):
    details = serializers.DictField()

    class Meta:
        model = BotEvent
        fields = ("id", "created_at", "kind", "message", "details")
        read_only_fields = fields


class PnlSerializer(serializers.Serializer[Any]):
    mark_price = amount()
    grid_profit = amount(help_text="Realised by completed grid trades.")
    unrealized_pnl = amount(
        help_text="Held base valued at the mark price (a futures bot: its position, short negative)."
    )
    fees_quote = amount(
        help_text="Every fee, valued in quote. Those paid in the pair's assets are already netted in "
        "grid_profit and unrealized_pnl."
    )
    fees_not_netted = amount(
        help_text="Fees paid in a third asset, at their quote value: the only fees to take from "
        "grid_profit + unrealized_pnl to reach total_pnl."
    )
    fees_by_asset = serializers.DictField(child=amount())
    funding = amount(
        help_text="A futures bot's net funding: received, or paid when negative; 0 for a spot bot."
    )
    total_pnl = amount(
        help_text="Always equity - investment, and grid_profit + unrealized_pnl + funding - fees_not_netted."
    )
    equity = amount()
    investment = amount()
    roi = amount(help_text="total_pnl / investment, a fraction.")
    apr = amount(allow_null=True)
    base_held = amount(help_text="Base the bot holds; a futures bot's position, negative when short.")
    average_cost = amount(allow_null=True)
    round_trips = serializers.IntegerField()
    buys = serializers.IntegerField()
    sells = serializers.IntegerField()
    profit_factor = amount(allow_null=True)
