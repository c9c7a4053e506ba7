"""The create-bot form: a grid config on one of the trader's own exchange accounts."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from django import forms
from django.core.cache import cache
from django.db.models import QuerySet

from accounts.models import User
from bots import codec
from bots.backtests.models import Backtest
from bots.models import Bot
from bots.strategies import grid
from exchanges.base import ExchangeError
from exchanges.models import ExchangeAccount
from exchanges.registry import exchange_for_account
from trading.forms import DecimalField
from trading.numbers import exact

# A venue lists its instruments rarely changing; ten minutes keeps typing off its API.
SYMBOLS_CACHE_SECONDS = 600
DEFAULT_SYMBOL = "BTCUSDT"
DEFAULT_GRID_COUNT = 10

# GridConfigError keys that have no field of their own.
_NON_FIELD_ERRORS = ("__all__", "reference_price", "symbol_filters")


def symbols_for(account: ExchangeAccount) -> list[str]:
    """The symbols `account`'s venue lists, cached per account. Raises `ExchangeError`."""
    key = f"bot-wizard:symbols:{account.pk}"
    found = cache.get(key)
    if isinstance(found, list):
        return found
    symbols = sorted(instrument.symbol for instrument in exchange_for_account(account).instruments())
    cache.set(key, symbols, SYMBOLS_CACHE_SECONDS)
    return symbols


def _price_field(label: str, *, required: bool = True, help_text: str = "") -> DecimalField:
    return DecimalField(
        label=label,
        required=required,
        max_digits=30,
        decimal_places=12,
        min_value=Decimal(0),
        help_text=help_text,
    )


class AccountChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: ExchangeAccount) -> str:
        return f"{obj.label} · {obj.venue_label}"


class MarketForm(forms.Form):
    """The fields every strategy's form opens with: one of the owner's accounts, a symbol its
    venue lists, and a name. Another trader's account is never offered nor accepted."""

    account = AccountChoiceField(
        label="Exchange account", queryset=ExchangeAccount.objects.none(), empty_label=None
    )
    symbol = forms.ChoiceField(label="Symbol")
    name = forms.CharField(max_length=80, required=False, help_text="Leave empty for “<symbol> grid”.")

    def __init__(self, owner: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        accounts = self.offered_accounts(ExchangeAccount.objects.owned_by(owner).order_by("label"))
        account_field = self.fields["account"]
        assert isinstance(account_field, AccountChoiceField)
        account_field.queryset = accounts
        self.chosen_account = self._chosen_account(accounts)
        self.venue_error: str | None = None
        self.symbols: list[str] = []
        if self.chosen_account is not None:
            try:
                self.symbols = self.offered_symbols(symbols_for(self.chosen_account))
            except ExchangeError as exc:
                self.venue_error = venue_message(self.chosen_account, exc)
        symbol_field = self.fields["symbol"]
        assert isinstance(symbol_field, forms.ChoiceField)
        symbol_field.choices = [(symbol, symbol) for symbol in self.symbols]
        if not self.is_bound:
            if self.chosen_account is not None:
                self.initial["account"] = self.chosen_account.pk
            self.initial["symbol"] = self.chosen_symbol

    def offered_accounts(self, accounts: QuerySet[ExchangeAccount]) -> QuerySet[ExchangeAccount]:
        """The owner's accounts this strategy can trade on (a subclass narrows them)."""
        return accounts

    def offered_symbols(self, symbols: list[str]) -> list[str]:
        return symbols

    def _chosen_account(self, accounts: Any) -> ExchangeAccount | None:
        """The account the symbols come from: the submitted one if it is the owner's, else the first."""
        raw = self.data.get("account") if self.is_bound else self.initial.get("account")
        if isinstance(raw, ExchangeAccount):
            raw = raw.pk
        chosen = None
        if raw not in (None, ""):
            try:
                chosen = accounts.filter(pk=int(raw)).first()
            except (TypeError, ValueError):
                chosen = None
        if chosen is None and not self.is_bound:
            chosen = accounts.first()
        return chosen

    @property
    def chosen_symbol(self) -> str | None:
        """The symbol to show a price and a chart for, even while other fields are invalid."""
        raw = self.data.get("symbol") if self.is_bound else self.initial.get("symbol")
        if raw in self.symbols:
            return str(raw)
        if DEFAULT_SYMBOL in self.symbols:
            return DEFAULT_SYMBOL
        return self.symbols[0] if self.symbols else None

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if self.venue_error:
            raise forms.ValidationError(self.venue_error)
        return with_default_choices(self, cleaned)

    def add_config_errors(self, error: grid.GridConfigError) -> None:
        """The strategy's errors on the fields they name; the rest above the form."""
        for key, messages in error.errors.items():
            field = key if key in self.fields and key not in _NON_FIELD_ERRORS else None
            for message in messages:
                self.add_error(field, message)


def grid_count_field() -> forms.IntegerField:
    """A grid's level count, for every form that lays one out (spot or futures)."""
    return forms.IntegerField(
        label="Grids",
        min_value=grid.MIN_GRIDS,
        max_value=grid.MAX_GRIDS,
        help_text=f"{grid.MIN_GRIDS} to {grid.MAX_GRIDS} intervals between the lower and upper price.",
        widget=forms.NumberInput(attrs={"inputmode": "numeric"}),
    )


def spacing_field() -> forms.ChoiceField:
    return forms.ChoiceField(
        choices=[
            (grid.Spacing.ARITHMETIC, "Arithmetic (equal steps)"),
            (grid.Spacing.GEOMETRIC, "Geometric (equal %)"),
        ],
        initial=grid.Spacing.ARITHMETIC,
        required=False,
    )


class BotForm(MarketForm):
    """Parses the wizard's fields; `config()` builds the `GridConfig` the strategy validates."""

    lower_price = _price_field("Lower price")
    upper_price = _price_field("Upper price")
    grid_count = grid_count_field()
    spacing = spacing_field()
    direction = forms.ChoiceField(
        choices=[
            (grid.Direction.LONG, "Long: buy low, sell high (starts from quote)"),
            (grid.Direction.SHORT, "Short: sell high, buy back low (starts from base)"),
        ],
        initial=grid.Direction.LONG,
        required=False,
    )
    investment = DecimalField(
        label="Investment",
        max_digits=30,
        decimal_places=12,
        min_value=Decimal(0),
        help_text="In the quote currency (e.g. USDT).",
    )
    trigger_price = _price_field(
        "Trigger price", required=False, help_text="Optional: wait for this price before starting."
    )
    take_profit_price = _price_field(
        "Take-profit price", required=False, help_text="Optional, above the range."
    )
    take_profit_action = forms.ChoiceField(
        label="At take-profit", choices=[], initial=grid.ExitAction.SELL_BASE, required=False
    )
    stop_loss_price = _price_field("Stop-loss price", required=False, help_text="Optional, below the range.")
    stop_loss_action = forms.ChoiceField(
        label="At stop-loss", choices=[], initial=grid.ExitAction.SELL_BASE, required=False
    )
    max_drawdown = DecimalField(
        label="Max drawdown (%)",
        required=False,
        max_digits=5,
        decimal_places=2,
        min_value=Decimal("0.01"),
        max_value=Decimal("99.99"),
        help_text="Optional: stop when equity falls this far below the investment.",
    )

    def __init__(self, owner: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(owner, *args, **kwargs)
        exit_choices = [
            (grid.ExitAction.SELL_BASE, "Stop and sell the base"),
            (grid.ExitAction.KEEP_BASE, "Stop and keep the base"),
        ]
        for name in ("take_profit_action", "stop_loss_action"):
            choice_field = self.fields[name]
            assert isinstance(choice_field, forms.ChoiceField)
            choice_field.choices = exit_choices

    def bot_name(self) -> str:
        return self.cleaned_data.get("name") or f"{self.cleaned_data['symbol']} grid"

    def config(self) -> grid.GridConfig:
        return grid_config_from(self.cleaned_data)


def with_default_choices(form: forms.Form, cleaned: dict[str, Any]) -> dict[str, Any]:
    """Choices a trader need not touch: an empty one means the field's default."""
    for name in ("spacing", "direction", "take_profit_action", "stop_loss_action"):
        if name in form.fields and not cleaned.get(name):
            cleaned[name] = form.fields[name].initial
    return cleaned


def grid_config_from(data: dict[str, Any]) -> grid.GridConfig:
    """The `GridConfig` of a form's cleaned grid fields; exits it lacks are unset."""
    drawdown = data.get("max_drawdown")
    return grid.GridConfig(
        symbol=data["symbol"],
        lower_price=data["lower_price"],
        upper_price=data["upper_price"],
        grid_count=data["grid_count"],
        investment=data["investment"],
        spacing=grid.Spacing(data["spacing"]),
        direction=grid.Direction(data["direction"]),
        trigger_price=data.get("trigger_price"),
        take_profit_price=data.get("take_profit_price"),
        take_profit_action=grid.ExitAction(data.get("take_profit_action", grid.ExitAction.SELL_BASE)),
        stop_loss_price=data.get("stop_loss_price"),
        stop_loss_action=grid.ExitAction(data.get("stop_loss_action", grid.ExitAction.SELL_BASE)),
        max_drawdown=drawdown / 100 if drawdown is not None else None,
    )


def venue_message(account: ExchangeAccount, error: ExchangeError) -> str:
    return f"{account.get_exchange_display()} did not answer as expected: {error}"


def initial_from_config(
    account: ExchangeAccount | None, name: str, config: grid.GridConfig
) -> dict[str, Any]:
    """Form values for `config`; the drawdown fraction becomes a percentage again. Without an
    account the form offers the trader's first."""
    values: dict[str, Any] = codec.config_to_json(config)
    values.pop("max_drawdown")
    # Amounts as the fields show them: in full, without a stored value's padding zeros.
    values.update({key: exact(value) for key, value in vars(config).items() if isinstance(value, Decimal)})
    values.update(
        account=account.pk if account is not None else None,
        name=name,
        max_drawdown=exact(config.max_drawdown * 100) if config.max_drawdown is not None else None,
    )
    return {key: value for key, value in values.items() if value is not None}


def initial_from_backtest(backtest: Backtest) -> dict[str, Any]:
    """The wizard's values for a bot trading the backtested grid, on the trader's first account."""
    return initial_from_config(
        None, f"{backtest.symbol} grid (backtest {backtest.pk})", codec.config_from_json(backtest.config)
    )


def initial_from_bot(bot: Bot) -> dict[str, Any]:
    return initial_from_config(bot.exchange_account, f"Copy of {bot.name}"[:80], bot.grid_config)
