from __future__ import annotations

from typing import Any

from rest_framework import serializers

from accounts.api.fields import StrictCharField, StrictRegexField, amount
from exchanges.models import Environment, ExchangeAccount, ExchangeName

SYMBOLS_PATTERN = r"^[A-Za-z0-9]{1,32}(,[A-Za-z0-9]{1,32}){0,19}$"


class ExchangeAccountSerializer(serializers.ModelSerializer[ExchangeAccount]):
    """An account as the API shows it: never a key or secret, only the key's last four characters."""

    permissions = serializers.DictField(read_only=True, help_text="What the key may do, as last checked.")
    check_outcome = StrictCharField(
        read_only=True, help_text="ok, refused or unavailable; empty until the key is first checked."
    )
    check_messages = serializers.ListField(child=StrictCharField(), read_only=True)

    class Meta:
        model = ExchangeAccount
        fields = (
            "id",
            "label",
            "exchange",
            "environment",
            "base_url",
            "key_last4",
            "check_outcome",
            "check_messages",
            "last_checked_at",
            "permissions",
            "created_at",
        )
        read_only_fields = fields


class ExchangeAccountCreateSerializer(serializers.Serializer[Any]):
    exchange = serializers.ChoiceField(choices=ExchangeName.choices)
    label = StrictCharField(max_length=60)  # type: ignore[assignment]
    environment = serializers.ChoiceField(
        choices=Environment.choices,
        required=False,
        help_text="Bybit: mainnet, testnet, demo or custom. Paper accounts need none.",
    )
    base_url = StrictCharField(
        max_length=200, required=False, allow_blank=True, help_text="Only for the custom environment."
    )
    api_key = StrictCharField(max_length=128, required=False, allow_blank=True, write_only=True)
    api_secret = StrictCharField(
        max_length=256, required=False, allow_blank=True, write_only=True, style={"input_type": "password"}
    )


class CreatedExchangeAccountSerializer(ExchangeAccountSerializer):
    warnings = serializers.ListField(
        child=StrictCharField(), read_only=True, help_text="e.g. a key usable from any IP address."
    )

    class Meta(ExchangeAccountSerializer.Meta):
        fields = (*ExchangeAccountSerializer.Meta.fields, "warnings")  # type: ignore[assignment]
        read_only_fields = fields  # type: ignore[assignment]


class InstrumentSerializer(serializers.Serializer[Any]):
    symbol = StrictCharField()
    base = StrictCharField()
    quote = StrictCharField()
    tick_size = amount()
    quantity_step = amount()
    min_quantity = amount()
    min_amount = amount()
    max_quantity = amount(help_text="The most base one limit order may trade.")
    max_amount = amount(help_text="The most quote one order may be worth.")
    max_market_quantity = amount(help_text="The most base one market order may trade.")
    maker_fee = amount()
    taker_fee = amount()


class TickerSerializer(serializers.Serializer[Any]):
    symbol = StrictCharField()
    last = amount()
    bid = amount()
    ask = amount()
    time = serializers.DateTimeField()


class TickerQuerySerializer(serializers.Serializer[Any]):
    symbols = StrictRegexField(
        SYMBOLS_PATTERN,
        help_text="Up to 20 symbols, comma-separated, e.g. BTCUSDT,ETHUSDT.",
        error_messages={"invalid": "Give up to 20 symbols, comma-separated, e.g. BTCUSDT,ETHUSDT."},
    )
