"""The futures grid through the API: the preview's request and answer, and a bot's live position."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from rest_framework import serializers

from accounts.api.fields import ExactDecimalField, StrictCharField, StrictRegexField, amount
from bots.api.serializers import MAX_ID, percent_input, price_input
from bots.strategies import futures_grid, grid
from exchanges.base import PositionSide
from trading.api.serializers import SIDE_CHOICES


class FuturesGridConfigSerializer(serializers.Serializer[Any]):
    """A futures grid's settings on a USDT perpetual. Every rule beyond the types is the
    strategy's own (`bots.strategies.futures_grid.validate`), leverage's range included."""

    strategy = serializers.ChoiceField(choices=[futures_grid.NAME], help_text='"futures_grid".')
    account = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text="An exchange account id.")
    symbol = StrictRegexField(r"^[A-Za-z0-9]{1,32}$", help_text="The perpetual, e.g. BTCUSDT")
    lower_price = price_input()
    upper_price = price_input()
    grid_count = serializers.IntegerField(min_value=grid.MIN_GRIDS, max_value=grid.MAX_GRIDS)
    investment = price_input(help_text="The margin, in USDT.")
    leverage = ExactDecimalField(
        max_digits=6,
        decimal_places=2,
        min_value=Decimal(0),
        help_text="From 1 to the server's cap (FUTURES_MAX_LEVERAGE) and the symbol's limit, "
        "in steps of 0.01.",
    )
    mode = serializers.ChoiceField(
        choices=[m.value for m in futures_grid.Mode],
        default=futures_grid.Mode.LONG,
        help_text="long: opens a long at start, the sells above close it. short: the mirror. "
        "neutral: starts flat; buys below open longs, sells above open shorts.",
    )
    spacing = serializers.ChoiceField(
        choices=[s.value for s in grid.Spacing], default=grid.Spacing.ARITHMETIC
    )
    trigger_price = price_input(required=False, allow_null=True)
    take_profit_price = price_input(required=False, allow_null=True)
    stop_loss_price = price_input(required=False, allow_null=True)
    liquidation_stop_distance = percent_input(
        required=False,
        allow_null=True,
        help_text="Percent: stop the bot, closing its position, once the mark price comes this close "
        "to the liquidation price. null: no automatic stop.",
    )
    take_profit_percent = percent_input(
        required=False,
        allow_null=True,
        help_text="Percent of the margin: stop the bot, closing its position, once its total PnL "
        "(fees and funding counted) has made this much. null: none.",
    )
    stop_loss_percent = percent_input(
        required=False,
        allow_null=True,
        help_text="Percent of the margin, below 100: stop the bot, closing its position, once its "
        "total PnL has lost this much. null: none.",
    )

    def futures_config(self) -> futures_grid.FuturesGridConfig:
        data = dict(self.validated_data)
        for extra in ("account", "reference_price", "strategy", "name"):
            data.pop(extra, None)
        data["symbol"] = data["symbol"].upper()
        return futures_grid.config_from_json(data)


class FuturesGridPreviewRequestSerializer(FuturesGridConfigSerializer):
    reference_price = price_input(
        required=False,
        allow_null=True,
        help_text="Lay the grid out at this price; default: the perpetual's mark price on the "
        "account's venue.",
    )


class FuturesBotWriteSerializer(FuturesGridConfigSerializer):
    """A new futures grid bot: checked at the perpetual's mark price, with the margin free in
    USDT. It is created as a draft; its start may need `confirm_liquidation_risk`."""

    name = StrictCharField(max_length=80)


class FuturesPreviewLevelSerializer(serializers.Serializer[Any]):
    price = amount()
    side = serializers.ChoiceField(choices=SIDE_CHOICES, allow_null=True, help_text="null: the empty line.")
    quantity = amount(allow_null=True)
    reduce_only = serializers.BooleanField(
        allow_null=True, help_text="true: the order only closes position. null on the empty line."
    )


class FuturesGridPreviewSerializer(serializers.Serializer[Any]):
    strategy = StrictCharField()
    symbol = StrictCharField()
    reference_price = amount(help_text="The price the grid was laid out at (the start's market order).")
    mode = StrictCharField()
    leverage = amount()
    levels = FuturesPreviewLevelSerializer(many=True, help_text="One per price line, low to high.")
    quantity_per_order = amount(help_text="In the base asset, the same at every level.")
    profit_per_grid_min = amount(help_text="USDT one grid earns per round trip, after maker fees.")
    profit_per_grid_max = amount()
    profit_per_grid_min_percent = amount(
        help_text="The same in percent of the margin that grid's order ties up (its value / leverage)."
    )
    profit_per_grid_max_percent = amount()
    initial_margin = amount(
        help_text="USDT held as position margin (initial margin plus the fee to close) once every "
        "entry level has filled; for a neutral grid, both sides' together."
    )
    margin_at_start = amount(help_text="The position margin of the start's market order.")
    position_at_start = amount(help_text="In the base asset, opened at market at start; negative: short.")
    maintenance_margin_rate = amount(help_text="Of the risk-limit tier of the full position's value.")
    liquidation_price = amount(
        allow_null=True,
        help_text="Estimated, isolated margin, once every entry level has filled (a neutral grid's long "
        "side); null when nothing opens that side.",
    )
    liquidation_price_short_side = amount(
        allow_null=True, help_text="A neutral grid's: once every sell above the price has filled."
    )
    liquidation_price_at_start = amount(
        allow_null=True, help_text="Of the position opened at start; null when the grid starts flat."
    )
    min_investment = amount(help_text="The smallest margin with every order at the venue's minimums.")
    warnings = serializers.ListField(child=StrictCharField())


class BotPositionSerializer(serializers.Serializer[Any]):
    """A futures grid bot's position as its venue reports it now (one-way mode, isolated margin)."""

    symbol = StrictCharField()
    mode = serializers.ChoiceField(choices=[m.value for m in futures_grid.Mode], help_text="The grid's mode.")
    side = serializers.ChoiceField(
        choices=[s.value for s in PositionSide], allow_null=True, help_text="null: flat."
    )
    size = amount(help_text='In the base asset, never negative; "0" when flat.')
    entry_price = amount(allow_null=True, help_text="The average entry price; null when flat.")
    mark_price = amount(help_text="The venue's mark price, which liquidation and unrealised PnL follow.")
    leverage = amount(help_text="The leverage in force on the venue for the symbol.")
    liquidation_price = amount(allow_null=True, help_text="The venue's; null when flat.")
    distance_to_liquidation_percent = amount(
        allow_null=True,
        help_text="How far the mark may move against the position before liquidation, in percent of the "
        "mark, cut to 0.01 towards liquidation (negative once past it); null when flat.",
    )
    position_margin = amount(help_text="USDT held for the position, the fee to close included.")
    unrealised_pnl = amount(help_text="At the mark price, in USDT.")
    funding = amount(
        allow_null=True,
        help_text="Net funding the bot's books counted, in USDT: positive received, negative paid; "
        "null until the bot has books (it has not started).",
    )
    liquidation_stop_distance = amount(
        allow_null=True,
        help_text="From the settings: the bot stops, closing the position, once the mark is within this "
        "percent of liquidation; null: no automatic stop.",
    )
