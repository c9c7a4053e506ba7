"""The DCA bot's form: its fields as a trader reads them. The form parses types only; every rule
on the values is the strategy's (`dca.validate`, through `check_preview`), whose errors land
back on the fields they name (`add_config_errors`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms

from bots.forms import MarketForm
from bots.strategies import dca
from trading.forms import DecimalField
from trading.numbers import exact

# The config's fields the form edits; `symbol` comes from the market fields.
CONFIG_FIELDS = (
    "direction",
    "base_order_size",
    "base_order_type",
    "safety_order_size",
    "price_deviation",
    "step_scale",
    "volume_scale",
    "max_safety_orders",
    "max_active_safety_orders",
    "take_profit",
    "take_profit_on",
    "trailing_deviation",
    "stop_loss",
    "breakeven_after",
    "start_condition",
    "start_price",
    "cooldown",
    "max_deals",
)
# Choices a trader need not touch: empty means the config's default.
DEFAULT_CHOICES = {
    "direction": dca.Direction.LONG,
    "base_order_type": dca.BaseOrderType.MARKET,
    "take_profit_on": dca.TakeProfitOn.TOTAL,
    "start_condition": dca.StartCondition.IMMEDIATELY,
}
# Blank means "the config's default" for these, not "none".
DEFAULT_NUMBERS = {"step_scale": Decimal(1), "volume_scale": Decimal(1)}
DEFAULT_VALUES: dict[str, Any] = {
    **{name: choice.value for name, choice in DEFAULT_CHOICES.items()},
    **{name: exact(number) for name, number in DEFAULT_NUMBERS.items()},
}


def _amount(label: str, help_text: str, *, required: bool = True) -> DecimalField:
    return DecimalField(label=label, required=required, max_digits=30, decimal_places=12, help_text=help_text)


def _percent(label: str, help_text: str, *, required: bool = True) -> DecimalField:
    return DecimalField(label=label, required=required, max_digits=12, decimal_places=6, help_text=help_text)


def _count(label: str, help_text: str, *, required: bool = False) -> forms.IntegerField:
    return forms.IntegerField(
        label=label,
        required=required,
        help_text=help_text,
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


class DcaBotForm(MarketForm):
    """Parses the DCA fields; `config()` builds the `DcaConfig` through `dca.config_from_json`."""

    name = forms.CharField(max_length=80, required=False, help_text="Leave empty for “<symbol> DCA”.")
    direction = forms.ChoiceField(
        choices=[
            (dca.Direction.LONG, "Long: buy the dips, sell higher (spends quote)"),
            (dca.Direction.SHORT, "Short: sell the rallies, buy back lower (spends base you hold)"),
        ],
        initial=dca.Direction.LONG,
        required=False,
    )
    base_order_size = _amount(
        "Base order", "Bought at market when a deal opens, in the quote currency (e.g. USDT)."
    )
    base_order_type = forms.ChoiceField(
        label="Base order type",
        choices=[
            (dca.BaseOrderType.MARKET, "Market"),
            (dca.BaseOrderType.LIMIT, "Limit"),
        ],
        initial=dca.BaseOrderType.MARKET,
        required=False,
        help_text="Market buys at once. Limit rests one tick better than the price and pays the maker "
        "fee; the deal opens when it fills, and waits if the price moves away.",
    )
    safety_order_size = _amount(
        "Safety order", "The first safety order, in the quote currency; the volume scale sizes the rest."
    )
    price_deviation = _percent(
        "Price deviation (%)", "How far below the base order the first safety order rests (above, short)."
    )
    step_scale = _percent(
        "Safety order step scale",
        "Each gap to the next safety order is this times the last one; 1 keeps the gaps even.",
        required=False,
    )
    volume_scale = _percent(
        "Volume scale",
        "Each safety order is this times the last one in size; 1 keeps them equal.",
        required=False,
    )
    max_safety_orders = _count(
        "Max safety orders",
        f"How many safety orders one deal may use, 1 to {dca.MAX_SAFETY_ORDERS}.",
        required=True,
    )
    max_active_safety_orders = _count(
        "Max active safety orders", "How many rest on the exchange at once. Leave empty for all of them."
    )
    take_profit = _percent("Take profit (%)", "The deal sells everything this far above its average entry.")
    take_profit_on = forms.ChoiceField(
        label="Take profit on",
        choices=[
            (dca.TakeProfitOn.TOTAL, "Total volume"),
            (dca.TakeProfitOn.BASE, "Base order only"),
        ],
        initial=dca.TakeProfitOn.TOTAL,
        required=False,
        help_text="The profit as a percentage of everything the deal bought, or of the base order only.",
    )
    trailing_deviation = _percent(
        "Trailing deviation (%)",
        "Optional: once the take profit is reached, follow the price and sell when it turns back this far.",
        required=False,
    )
    stop_loss = _percent(
        "Stop loss (%)",
        "Optional: close the deal at market this far below the average entry.",
        required=False,
    )
    breakeven_after = _count(
        "Move the stop loss to break-even after safety order",
        "Optional: once this safety order fills, the stop loss moves to the average entry.",
    )
    start_condition = forms.ChoiceField(
        label="Start a deal",
        choices=[
            (dca.StartCondition.IMMEDIATELY, "Immediately, and again as soon as a deal closes"),
            (dca.StartCondition.PRICE, "When the price crosses a level"),
            (dca.StartCondition.COOLDOWN, "After a cooldown since the last deal"),
        ],
        initial=dca.StartCondition.IMMEDIATELY,
        required=False,
    )
    start_price = _amount("Start price", "For “when the price crosses a level”.", required=False)
    cooldown = _count("Cooldown (seconds)", "For “after a cooldown”: 3600 is one hour.")
    max_deals = _count("Max deals", "Optional: stop after this many deals. Leave empty to repeat.")

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        for name, default in {**DEFAULT_CHOICES, **DEFAULT_NUMBERS}.items():
            if cleaned.get(name) in (None, ""):
                cleaned[name] = default
        return cleaned

    def bot_name(self) -> str:
        return self.cleaned_data.get("name") or f"{self.cleaned_data['symbol']} DCA"

    def config(self) -> dca.DcaConfig:
        return dca.config_from_json(config_json(self.cleaned_data))


def config_json(cleaned: dict[str, Any]) -> dict[str, Any]:
    """The cleaned fields as the config's JSON (decimals as strings), as the API would send them."""
    data: dict[str, Any] = {"symbol": cleaned["symbol"]}
    for name in CONFIG_FIELDS:
        value = cleaned.get(name)
        data[name] = str(value) if isinstance(value, Decimal) else value
    return data


def initial_from_dca_config(account_pk: int | None, name: str, config: dca.DcaConfig) -> dict[str, Any]:
    """Form values for `config`: amounts in full, without a stored value's padding zeros."""
    values: dict[str, Any] = {"account": account_pk, "name": name, "symbol": config.symbol}
    for key in CONFIG_FIELDS:
        value = getattr(config, key)
        values[key] = exact(value) if isinstance(value, Decimal) else getattr(value, "value", value)
    return {key: value for key, value in values.items() if value is not None}
