from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template

from trading.templatetags.money import amount, format_amount, percent, pnl_direction


@pytest.mark.parametrize(
    ("value", "step", "expected"),
    [
        (Decimal("54000"), Decimal("0.1"), "54,000.0"),
        (Decimal("0.0123456"), Decimal("0.000001"), "0.012346"),
        (Decimal("1234.5"), Decimal("1"), "1,234"),  # half-even at the venue's step
        (Decimal("-0.001"), Decimal("0.01"), "0.00"),  # never a negative zero
        ("12.5", "0.10", "12.5"),
        (None, "0.1", ""),
    ],
)
def test_amount_uses_the_step_precision(value: object, step: object, expected: str) -> None:
    assert amount(value, step) == expected


def test_signed_amounts_and_percentages() -> None:
    assert format_amount(Decimal("12.345"), "0.01", signed=True) == "+12.34"
    assert format_amount(Decimal("-3"), "0.01", signed=True) == "-3.00"
    assert percent(Decimal("0.0123")) == "+1.23%"
    assert percent(None) == "—"


def test_pnl_tag_is_readable_without_colour() -> None:
    template = Template('{% load money %}{% pnl value "0.01" "USDT" %}')
    gain = template.render(Context({"value": Decimal("12.3456")}))
    loss = template.render(Context({"value": Decimal("-0.5")}))
    flat = template.render(Context({"value": Decimal("0.001")}))
    assert "pnl-up" in gain
    assert "▲" in gain
    assert "+12.35 USDT" in gain
    assert 'aria-label="gain"' in gain
    assert "pnl-down" in loss
    assert "▼" in loss
    assert "-0.50 USDT" in loss
    assert "pnl-flat" in flat
    assert "0.00 USDT" in flat
    assert pnl_direction(None) == "flat"


@pytest.mark.parametrize("value", [Decimal("12.3456"), Decimal("-0.5"), Decimal("0.001"), None])
@pytest.mark.parametrize("unit", ["USDT", "", "<b>&"])
def test_pnl_tag_writes_what_format_html_would(value: Decimal | None, unit: str) -> None:
    from django.utils.html import format_html

    from trading.templatetags.money import pnl

    if value is None:
        assert pnl(value, "0.01", unit) == '<span class="pnl pnl-none">—</span>'
        return
    direction = pnl_direction(value)
    expected = format_html(
        '<span class="pnl pnl-{}"><span class="pnl-mark" aria-label="{}">{}</span> {}{}</span>',
        direction,
        {"up": "gain", "down": "loss", "flat": "no change"}[direction],
        {"up": "▲", "down": "▼", "flat": "•"}[direction],
        format_amount(value, "0.01", signed=direction != "flat"),
        f" {unit}" if unit else "",
    )
    assert pnl(value, "0.01", unit) == expected
    assert "<b>" not in pnl(value, "0.01", "<b>&")  # the unit is escaped


def test_a_step_is_remembered_by_its_type_and_value() -> None:
    # Equal as numbers (and so as cache keys), not as steps: the float reads as "0.1", the
    # Decimal made from it holds its exact binary value, far more places long.
    exact = Decimal.from_float(0.1)
    assert exact == 0.1
    assert amount(Decimal("0.123456"), 0.1) == "0.1"
    assert len(amount(Decimal("0.123456"), exact).split(".")[1]) > 20
    assert amount(Decimal("0.123456"), 0.1) == "0.1"
    assert amount(Decimal("1.23456"), "0.001") == "1.235"
    assert amount(Decimal("1.23456"), None) == "1.23"
