"""The kernel's one way of showing numbers and codes (core.domain.display) and its template filters."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.template import Context, Template
from hypothesis import given
from hypothesis import strategies as st

from core.domain.display import (
    MINUS,
    amount_text,
    code_label,
    decimal_text,
    member_months_text,
    money_text,
    percent_text,
    rate_cell_text,
)
from core.domain.money import to_cents


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("1096.22"), "$1,096.22"),
        ("1096.22", "$1,096.22"),
        (Decimal("-1824.59"), f"{MINUS}$1,824.59"),
        (Decimal("0"), "$0.00"),
        (7, "$7.00"),
        (Decimal("1234567.891"), "$1,234,567.89"),
        # half a cent rounds away from zero, as the ledger does
        (Decimal("2.675"), "$2.68"),
        (Decimal("-0.005"), f"{MINUS}$0.01"),
        # below half a cent is zero, and zero has no sign
        (Decimal("-0.004"), "$0.00"),
        (None, "—"),
        ("", "—"),
    ],
)
def test_money_reads_with_dollar_sign_separators_and_one_minus(value, text):
    assert money_text(value) == text


def test_money_without_cents_rounds_half_up_to_the_dollar():
    assert money_text(Decimal("1234.5"), cents=False) == "$1,235"
    assert money_text(Decimal("-1234.49"), cents=False) == f"{MINUS}$1,234"


def test_an_amount_in_a_dollar_column_has_no_sign_but_the_minus():
    assert amount_text(Decimal("1096.225")) == "1,096.23"
    assert amount_text(Decimal("-4.1")) == f"{MINUS}4.10"
    assert amount_text(None) == "—"


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("28.000000"), "28.00"),
        (Decimal("2.903226"), "2.90"),
        (Decimal("0.733333"), "0.73"),
        (Decimal("0.005"), "0.01"),
        (Decimal("1234"), "1,234.00"),
        (Decimal("-1.000000"), f"{MINUS}1.00"),
        (None, "—"),
    ],
)
def test_member_months_read_with_two_decimals(value, text):
    assert member_months_text(value) == text


def test_percent_and_decimal():
    assert percent_text(Decimal("0.035")) == "3.5%"
    assert percent_text(Decimal("0.12197802"), 2) == "12.20%"
    assert percent_text(Decimal("-0.1")) == f"{MINUS}10.0%"
    assert percent_text(None) == "—"
    assert decimal_text(Decimal("1.071225"), 4) == "1.0712"
    assert decimal_text(Decimal("1.07125"), 4) == "1.0713"


@given(st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, allow_infinity=False, places=4))
def test_money_text_is_the_cents_figure_the_ledger_holds(value):
    """Whatever the amount, the page shows exactly the cent figure ``to_cents`` gives: strip the
    formatting and it is the same Decimal."""
    text = money_text(value)
    plain = text.replace("$", "").replace(",", "").replace(MINUS, "-")
    assert Decimal(plain) == to_cents(value)
    assert "-" not in text and text.count("$") == 1


@pytest.mark.parametrize(
    ("code", "label"),
    [
        ("medicare_advantage", "Medicare Advantage"),
        ("dsnp", "D-SNP"),
        ("any_day", "Any day of the month"),
        ("first_day", "Tier on the first enrolled day"),
        ("contract_manager", "Contract manager"),
        ("lost_eligibility", "Lost eligibility"),
        ("death", "Death"),
        ("URBAN", "URBAN"),
        (None, "—"),
    ],
)
def test_every_code_reads_by_its_label_or_in_words(code, label):
    assert code_label(code) == label


def test_rate_cells_read_in_words_whatever_the_key_order():
    assert rate_cell_text("2/URBAN/medicare_advantage") == "Tier 2 · URBAN · Medicare Advantage"
    assert rate_cell_text("medicaid/3/RURAL-N") == "Tier 3 · RURAL-N · Medicaid"
    assert rate_cell_text("") == "—"


def test_the_template_filters_are_the_kernel_functions():
    template = Template(
        "{% load display %}{{ a|money }}|{{ a|amount }}|{{ mm|member_months }}|{{ s|percent }}|"
        "{{ s|percent:2 }}|{{ f|decimal:4 }}|{{ lob|label }}|{{ lobs|labels }}|{{ cell|rate_cell }}|{{ none|labels }}"
    )
    text = template.render(
        Context(
            {
                "a": Decimal("-1096.225"),
                "mm": Decimal("2.903226"),
                "s": Decimal("0.0325"),
                "f": Decimal("1.071225"),
                "lob": "medicare_advantage",
                "lobs": ["medicaid", "dsnp"],
                "cell": "1/URBAN/medicaid",
                "none": [],
            }
        )
    )
    assert text.split("|") == [
        f"{MINUS}$1,096.23",
        f"{MINUS}1,096.23",
        "2.90",
        "3.3%",
        "3.25%",
        "1.0712",
        "Medicare Advantage",
        "Medicaid, D-SNP",
        "Tier 1 · URBAN · Medicaid",
        "—",
    ]
