"""The endpoint form: a URL that passes the SSRF guard and at least one event."""

from __future__ import annotations

from typing import Any

from django import forms

from bots.webhooks import actions, guard
from bots.webhooks.events import SUBSCRIBABLE


class EndpointForm(forms.Form):
    url = forms.URLField(
        label="URL",
        max_length=500,
        assume_scheme="https",
        help_text="Where we POST events. Use https:// in production.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/gridwise/webhook"}),
    )
    description = forms.CharField(max_length=100, required=False)
    events = forms.MultipleChoiceField(
        choices=[(event.value, f"{event.label} ({event.value})") for event in SUBSCRIBABLE],
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": "Choose at least one event to send."},
    )
    enabled = forms.BooleanField(required=False, initial=True, help_text="Off: no events are sent.")

    def clean_url(self) -> str:
        url: str = self.cleaned_data["url"]
        try:
            actions.check_endpoint_url(url)
        except guard.UnsafeURL as exc:
            raise forms.ValidationError(str(exc)) from exc
        return url

    def endpoint_fields(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "url": data["url"],
            "description": data["description"],
            "events": list(dict.fromkeys(data["events"])),
            "enabled": data["enabled"],
        }
