from __future__ import annotations

from typing import Any

from django import forms

from notifications.events import CONFIGURABLE_CHANNELS, CRITICAL_KINDS, MODES_BY_CHANNEL, Kind, Severity


def cell_name(kind: str, channel: str) -> str:
    return f"{kind}__{channel}"


class PreferencesForm(forms.Form):
    """The event-by-channel matrix, one select per cell, and the quiet hours."""

    quiet_start = forms.TimeField(
        required=False, label="Quiet from", widget=forms.TimeInput(attrs={"type": "time"})
    )
    quiet_end = forms.TimeField(required=False, label="until", widget=forms.TimeInput(attrs={"type": "time"}))
    summary_hour = forms.TypedChoiceField(
        required=False,
        coerce=int,
        empty_value=None,
        choices=[
            ("", "No daily summary"),
            *((str(hour), f"Every day at {hour:02d}:00") for hour in range(24)),
        ],
        label="When",
        help_text="Your bots' PnL today and in total, the day's fills, and what needs your attention.",
    )

    def __init__(self, *args: Any, matrix: dict[tuple[str, str], str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for kind in Kind:
            for channel in CONFIGURABLE_CHANNELS:
                self.fields[cell_name(kind, channel)] = forms.ChoiceField(
                    choices=[(mode.value, mode.label) for mode in MODES_BY_CHANNEL[channel]],
                    initial=matrix[(kind.value, channel.value)],
                    label=f"{kind.label}: {channel.label}",
                )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if bool(data.get("quiet_start")) != bool(data.get("quiet_end")):
            raise forms.ValidationError("Give both ends of the quiet hours, or neither.")
        return data

    def choices(self) -> dict[tuple[str, str], str]:
        return {
            (kind.value, channel.value): self.cleaned_data[cell_name(kind, channel)]
            for kind in Kind
            for channel in CONFIGURABLE_CHANNELS
        }

    def rows(self) -> list[dict[str, Any]]:
        return [
            {
                "kind": kind,
                "critical": kind in CRITICAL_KINDS,
                "cells": [
                    {"channel": channel.label, "field": self[cell_name(kind, channel)]}
                    for channel in CONFIGURABLE_CHANNELS
                ],
            }
            for kind in Kind
        ]


class NotificationFilterForm(forms.Form):
    kind = forms.ChoiceField(required=False, choices=[("", "All events"), *Kind.choices])
    severity = forms.ChoiceField(required=False, choices=[("", "Any severity"), *Severity.choices])
    unread = forms.BooleanField(required=False, label="Unread only")
