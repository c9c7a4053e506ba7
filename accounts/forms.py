from __future__ import annotations

import zoneinfo
from typing import Any

from django import forms

from accounts.models import User


def _time_zone_choices() -> list[tuple[str, str]]:
    return [(name, name.replace("_", " ")) for name in sorted(zoneinfo.available_timezones())]


class ProfileForm(forms.ModelForm):
    time_zone = forms.ChoiceField(choices=_time_zone_choices, help_text="Times are shown in this zone.")

    class Meta:
        model = User
        fields = ("display_name", "time_zone")
        labels = {"display_name": "Display name"}
        help_texts = {"display_name": "Shown in the menu. Leave empty to use your email."}


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code",
        max_length=32,
        widget=forms.TextInput(
            attrs={
                "autocomplete": "one-time-code",
                "inputmode": "text",
                "autocapitalize": "off",
                "spellcheck": "false",
                "autofocus": True,
            }
        ),
    )

    def __init__(self, *args: Any, label: str = "Code", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["code"].label = label


class ApiTokenForm(forms.Form):
    EXPIRY_DAYS = {"30": 30, "90": 90, "365": 365}

    name = forms.CharField(max_length=80, help_text="What uses it, e.g. “rebalance script”.")
    scopes = forms.ChoiceField(
        label="Access",
        choices=[
            ("read", "Read: see accounts, bots, orders, fills and PnL"),
            ("read,trade", "Read and trade: also create, start, stop and delete bots"),
        ],
        widget=forms.RadioSelect,
        initial="read",
    )
    expires = forms.ChoiceField(
        label="Expires",
        choices=[("30", "In 30 days"), ("90", "In 90 days"), ("365", "In a year"), ("never", "Never")],
        initial="90",
    )
