"""The one rule for writing and reading amounts, on the server and in the browser's charts."""

from __future__ import annotations

import json
import shutil
import subprocess
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from pathlib import Path

import pytest
from django import forms

from exchanges.base import shown
from trading.forms import DecimalField
from trading.numbers import NumberFormatError, exact, fixed, parse, plain

D = Decimal
FORMAT_JS = Path(__file__).resolve().parents[2] / "static" / "js" / "format.js"


@pytest.mark.parametrize(
    ("value", "step", "written"),
    [
        (D("22000.5"), "0.01", "22,000.50"),
        (D("1002547037.345483328"), "0.01", "1,002,547,037.35"),
        (D("23774.400000000000000000"), "0.1", "23,774.4"),
        (D("-0.004"), "0.01", "0.00"),  # never "-0.00"
        (D("0.125"), "0.01", "0.12"),  # half to even
        (D("54000"), "1", "54,000"),
        ("1234.5", D("0.001"), "1,234.500"),
        (None, "0.01", ""),
    ],
)
def test_fixed_writes_a_steps_precision_with_thousands(value: object, step: object, written: str) -> None:
    assert fixed(value, step) == written


def test_fixed_can_sign_and_round_against_the_reader() -> None:
    assert fixed(D("12.3"), signed=True) == "+12.30"
    assert fixed(D("-12.3"), signed=True) == "-12.30"
    assert fixed(D("1002.341"), rounding=ROUND_UP) == "1,002.35"
    assert fixed(D("1002.349"), rounding=ROUND_DOWN) == "1,002.34"


@pytest.mark.parametrize(
    ("value", "as_plain", "as_exact"),
    [
        (D("23774.400000000000000000"), "23,774.4", "23774.4"),
        (D("54000"), "54,000", "54000"),
        (D("5.4E+4"), "54,000", "54000"),  # never in exponent form
        (D("0.000125000"), "0.000125", "0.000125"),
        (D("0E-18"), "0", "0"),
        (D("-1234567.5"), "-1,234,567.5", "-1234567.5"),
    ],
)
def test_plain_and_exact_drop_padding_and_never_use_exponents(
    value: Decimal, as_plain: str, as_exact: str
) -> None:
    assert plain(value) == as_plain
    assert exact(value) == as_exact
    assert shown(value) == as_plain  # the exchanges' messages write by the same rule


def test_plain_can_cap_its_places() -> None:
    assert plain(D("1002547037.345483328"), places=8) == "1,002,547,037.34548333"
    assert plain(D("0.5"), places=8) == "0.5"


@pytest.mark.parametrize(
    ("text", "number"),
    [
        ("22,000", D("22000")),
        ("22 000.5", D("22000.5")),
        ("22\u00a0000.5", D("22000.5")),  # a no-break space, as some locales group
        ("22000.5", D("22000.5")),
        ("1,234,567.89", D("1234567.89")),
        (" 0.000125 ", D("0.000125")),
        (".5", D("0.5")),
        ("-1,500", D("-1500")),
        ("\u22121.5", D("-1.5")),  # a typographic minus
        ("22000.50", D("22000.50")),
    ],
)
def test_parse_reads_what_the_product_prints(text: str, number: Decimal) -> None:
    assert parse(text) == number
    assert parse(plain(number)) == number
    assert parse(fixed(number, "0.01")) == number.quantize(D("0.01"))


@pytest.mark.parametrize("text", ["1,5", "1,2345", "12,34.5", "1 5", "22 000,5"])
def test_parse_refuses_a_comma_that_could_be_a_decimal_point(text: str) -> None:
    with pytest.raises(NumberFormatError, match="ambiguous: write decimals with a point"):
        parse(text)


@pytest.mark.parametrize("text", ["", "abc", "1.234,5", "1e5", "NaN", "Infinity", "1..2", "--1", "12a"])
def test_parse_refuses_what_is_not_a_number(text: str) -> None:
    with pytest.raises(NumberFormatError, match=r"is not a number: write it like 22,000\.5"):
        parse(text)


class MoneyForm(forms.Form):
    price = DecimalField(max_digits=30, decimal_places=12, min_value=D(0))
    optional = DecimalField(required=False)


def test_the_decimal_field_takes_printed_amounts_and_explains_a_refusal() -> None:
    form = MoneyForm({"price": "22 000.5", "optional": ""})
    assert form.is_valid(), form.errors
    assert form.cleaned_data == {"price": D("22000.5"), "optional": None}
    assert MoneyForm({"price": "1,234,567.8"}).is_valid()

    refused = MoneyForm({"price": "1,5"})
    assert not refused.is_valid()
    assert refused.errors["price"] == [
        "“1,5” is ambiguous: write decimals with a point (1.5) "
        "and thousands with a comma or a space (1,500 or 1 500)."
    ]
    assert MoneyForm({"price": "-5"}).errors["price"] == ["Ensure this value is greater than or equal to 0."]


def test_the_decimal_field_is_a_text_box_showing_the_value_in_full() -> None:
    html = str(MoneyForm(initial={"price": D("5.4E+4")})["price"])
    assert 'type="text"' in html
    assert 'value="54000"' in html
    assert 'inputmode="decimal"' in html


@pytest.mark.skipif(shutil.which("node") is None, reason="needs Node.js to run the browser's formatter")
def test_the_browsers_formatter_writes_as_the_server_does() -> None:
    samples = ["22000.5", "1002547037.345483328", "-1234.5", "0.125", "-0.004", "54000", "0.000125"]
    script = (
        "global.window = {};"
        f"require({json.dumps(str(FORMAT_JS))});"
        "const f = window.GridwiseFormat;"
        f"const samples = {json.dumps(samples)};"
        "console.log(JSON.stringify(samples.map(s => [f.fixed(s, 2), f.fixed(s, 2, true), f.plain(s)])));"
    )
    result = subprocess.run(["node", "-e", script], capture_output=True, text=True, check=True, timeout=30)  # noqa: S607
    written = json.loads(result.stdout)
    # The browser rounds binary floats, the server decimals: they agree except on an exact half.
    expected = [
        [
            fixed(D(s), "0.01") if s != "0.125" else "0.13",
            fixed(D(s), "0.01", signed=True) if s != "0.125" else "+0.13",
            plain(D(s)),
        ]
        for s in samples
    ]
    assert written == expected
