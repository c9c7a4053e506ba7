"""The futures grid's form: a grid on a USDT perpetual with a mode and a leverage. The form parses
types only; every rule on the values is the strategy's (`futures_grid.validate`, through
`check_futures_preview`, the trader's leverage cap included), whose errors land back on the
fields they name (`add_config_errors`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.db.models import QuerySet

from accounts.models import User
from bots.forms import MarketForm, grid_count_field, spacing_field
from bots.strategies import futures_grid, grid
from exchanges.models import ExchangeAccount, ExchangeName
from exchanges.paper.exchange import PaperExchange
from risk.actions import leverage_cap
from trading.forms import DecimalField
from trading.numbers import exact

QUOTE = "USDT"  # the perpetuals the futures grid trades are USDT-margined
DEFAULT_VALUES: dict[str, Any] = {
    "mode": futures_grid.Mode.LONG.value,
    "leverage": "5",
    "grid_count": "10",
    "spacing": grid.Spacing.ARITHMETIC.value,
}
OPTIONAL_PRICES = (
    "take_profit_price",
    "stop_loss_price",
    "take_profit_percent",
    "stop_loss_percent",
    "liquidation_stop_distance",
)


def trades_perpetuals(venue: str) -> bool:
    """Whether the venue's adapter trades linear perpetuals (its `supports_perpetuals`)."""
    if venue == ExchangeName.PAPER:
        return PaperExchange.supports_perpetuals
    if venue == ExchangeName.BYBIT:
        # Imported here, as exchanges.registry does: pybit is slow to load.
        from exchanges.bybit.adapter import BybitExchange

        return BybitExchange.supports_perpetuals
    return False


def _price(label: str, help_text: str, *, required: bool = True) -> DecimalField:
    return DecimalField(
        label=label,
        required=required,
        max_digits=30,
        decimal_places=12,
        min_value=Decimal(0),
        help_text=help_text,
    )


def _percent(label: str, help_text: str) -> DecimalField:
    return DecimalField(
        label=label,
        required=False,
        max_digits=8,
        decimal_places=4,
        min_value=Decimal(0),
        help_text=help_text,
    )


class FuturesGridForm(MarketForm):
    """Parses the futures grid's fields; `config()` builds its `FuturesGridConfig`."""

    name = forms.CharField(
        max_length=80, required=False, help_text="Leave empty for “<symbol> futures grid”."
    )
    mode = forms.ChoiceField(
        choices=[
            (futures_grid.Mode.LONG, "Long: opens a long at start"),
            (futures_grid.Mode.SHORT, "Short: opens a short at start"),
            (futures_grid.Mode.NEUTRAL, "Neutral: starts flat"),
        ],
        initial=futures_grid.Mode.LONG,
        required=False,
        help_text="Long: the sells above the price close the long. Short: the buys below close the "
        "short. Neutral: buys below open longs and sells above open shorts.",
    )
    leverage = DecimalField(label="Leverage (x)", max_digits=6, decimal_places=2, min_value=Decimal(0))
    lower_price = _price("Lower price", "")
    upper_price = _price("Upper price", "")
    grid_count = grid_count_field()
    spacing = spacing_field()
    investment = _price("Margin (USDT)", "Held as the positions' margin; it must be free on the account.")
    take_profit_price = _price(
        "Take-profit price",
        "Optional: close the position and stop once the price reaches it, outside the range.",
        required=False,
    )
    stop_loss_price = _price(
        "Stop-loss price",
        "Optional: close the position and stop once the price reaches it, outside the range.",
        required=False,
    )
    take_profit_percent = _percent(
        "Take-profit (% of margin)",
        "Optional: close the position and stop once the bot's total PnL has made this much.",
    )
    stop_loss_percent = _percent(
        "Stop-loss (% of margin)",
        "Optional: close the position and stop once the bot's total PnL has lost this much.",
    )
    liquidation_stop_distance = DecimalField(
        label="Stop near liquidation (%)",
        required=False,
        max_digits=8,
        decimal_places=4,
        min_value=Decimal(0),
        help_text="Optional: close the position and stop once the mark price comes this close to the "
        "liquidation price.",
    )

    def __init__(self, owner: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(owner, *args, **kwargs)
        self.leverage_cap = leverage_cap(owner)
        leverage = self.fields["leverage"]
        leverage.help_text = (
            f"Your cap: {self.leverage_cap.value}x ({self.leverage_cap.whose}). The symbol's risk limit "
            "may allow less for a large position."
        )

    def offered_accounts(self, accounts: QuerySet[ExchangeAccount]) -> QuerySet[ExchangeAccount]:
        venues = [venue for venue in ExchangeName.values if trades_perpetuals(venue)]
        return accounts.filter(exchange__in=venues)

    def offered_symbols(self, symbols: list[str]) -> list[str]:
        return [symbol for symbol in symbols if symbol.endswith(QUOTE)]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        if not cleaned.get("mode"):
            cleaned["mode"] = futures_grid.Mode.LONG.value
        return cleaned

    def bot_name(self) -> str:
        return self.cleaned_data.get("name") or f"{self.cleaned_data['symbol']} futures grid"

    def config(self) -> futures_grid.FuturesGridConfig:
        data = self.cleaned_data
        return futures_grid.FuturesGridConfig(
            symbol=data["symbol"],
            lower_price=data["lower_price"],
            upper_price=data["upper_price"],
            grid_count=data["grid_count"],
            investment=data["investment"],
            leverage=data["leverage"],
            mode=futures_grid.Mode(data["mode"]),
            spacing=grid.Spacing(data["spacing"]),
            take_profit_price=data.get("take_profit_price"),
            stop_loss_price=data.get("stop_loss_price"),
            liquidation_stop_distance=data.get("liquidation_stop_distance"),
            take_profit_percent=data.get("take_profit_percent"),
            stop_loss_percent=data.get("stop_loss_percent"),
        )


def initial_from_futures_config(
    account_pk: int | None, name: str, config: futures_grid.FuturesGridConfig
) -> dict[str, Any]:
    """Form values for `config`: amounts in full, without a stored value's padding zeros."""
    values: dict[str, Any] = {"account": account_pk, "name": name}
    for key, value in vars(config).items():
        values[key] = exact(value) if isinstance(value, Decimal) else getattr(value, "value", value)
    return {key: value for key, value in values.items() if value is not None}
