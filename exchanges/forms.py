from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError

from accounts.models import User
from exchanges.models import ENVIRONMENTS, Environment, ExchangeAccount, ExchangeName

# Model field -> the form field that shows its error.
_ERROR_FIELDS = {"exchange": "venue", "environment": "venue"}


def venue_value(exchange: str, environment: str) -> str:
    return f"{exchange}:{environment}"


def _venue_choices() -> list[tuple[str, str]]:
    choices = []
    for exchange, environments in ENVIRONMENTS.items():
        for environment in environments:
            if environment == Environment.CUSTOM and not settings.ALLOW_CUSTOM_EXCHANGE_URLS:
                continue
            name = ExchangeName(exchange).label
            text = name if exchange == ExchangeName.PAPER else f"{name} · {Environment(environment).label}"
            choices.append((venue_value(exchange, environment), text))
    return choices


_KEY_ATTRS = {"autocomplete": "off", "autocapitalize": "off", "spellcheck": "false"}


class UnechoedTextInput(forms.TextInput):
    """Visible while typing, but a re-shown form starts empty: only key_last4 is ever shown again."""

    def format_value(self, value: Any) -> str | None:
        return None


class ExchangeAccountForm(forms.Form):
    """Builds an unsaved `ExchangeAccount`; the model's own rules decide what is valid."""

    label = forms.CharField(max_length=60, help_text="A name you recognise, such as “Bybit main”.")
    venue = forms.ChoiceField(label="Exchange", choices=_venue_choices)
    base_url = forms.CharField(
        label="Base URL",
        required=False,
        max_length=200,
        help_text="Only for a custom environment, e.g. a Bybit simulator.",
        widget=forms.URLInput(attrs={"inputmode": "url", **_KEY_ATTRS}),
    )
    api_key = forms.CharField(
        label="API key",
        required=False,
        max_length=128,
        strip=True,
        widget=UnechoedTextInput(attrs=_KEY_ATTRS),
    )
    api_secret = forms.CharField(
        label="API secret",
        required=False,
        max_length=256,
        strip=True,
        # Never sent back to the browser, even when the form is shown again with errors.
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password", **_KEY_ATTRS}, render_value=False),
    )

    def __init__(self, owner: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.owner = owner
        self.account: ExchangeAccount | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if self.errors:
            return data
        account = self._build(data)
        try:
            account.full_clean(exclude=["owner"], validate_constraints=False)
        except ValidationError as exc:
            self._add_model_errors(exc)
            return data
        self.account = account
        return data

    def _add_model_errors(self, exc: ValidationError) -> None:
        for field, messages in exc.message_dict.items():
            target = _ERROR_FIELDS.get(field, field if field in self.fields else None)
            if target in ("api_key", "api_secret") and (
                self.has_error("api_key") or self.has_error("api_secret")
            ):
                continue  # _build has already said which one is missing
            for message in messages:
                self.add_error(target, message)

    def _build(self, data: dict[str, Any]) -> ExchangeAccount:
        exchange, environment = data["venue"].split(":", 1)
        account = ExchangeAccount(
            owner=self.owner,
            label=data["label"],
            exchange=exchange,
            environment=environment,
            base_url=data["base_url"] if environment == Environment.CUSTOM else "",
        )
        if account.needs_keys:
            api_key, api_secret = data["api_key"], data["api_secret"]
            if not api_key:
                self.add_error("api_key", "Enter the API key from your exchange.")
            if not api_secret:
                self.add_error("api_secret", "Enter the API secret that came with the key.")
            if api_key and api_secret:
                account.set_credentials(api_key, api_secret)
        return account
