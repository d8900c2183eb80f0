"""The SQL that prices member lines rounds exactly like payments.calc (half-up to the cent), on SQLite's
floating-point decimals as on PostgreSQL's numerics."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from payments import calc, sql
from tests.payments.conftest import MAR

pytestmark = pytest.mark.django_db

member_months = st.integers(0, 1_000_000).map(
    lambda n: (Decimal(n) / 1_000_000).quantize(Decimal("0.000001"))
)
rates = st.decimals(min_value=0, max_value=99999, places=2, allow_nan=False, allow_infinity=False)


def sql_amount(mm: Decimal, rate: Decimal) -> Decimal:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {sql.priced_cents('%s', '%s')}", [mm, rate])
        return Decimal(int(cursor.fetchone()[0])) / 100


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(member_months, rates)
@example(Decimal("0.500000"), Decimal("0.01"))  # 0.005 -> 0.01
@example(Decimal("0.161290"), Decimal("300.00"))  # 48.387 -> 48.39
@example(Decimal("0.548387"), Decimal("612.35"))  # 335.7997... -> 335.80
@example(Decimal("0.500000"), Decimal("612.35"))  # 306.175 -> 306.18
@example(Decimal("1.000000"), Decimal("99999.99"))
def test_sql_pricing_rounds_like_the_calc(mm, rate):
    assert sql_amount(mm, rate) == calc.member_line("M", MAR, "T", mm, rate).amount
