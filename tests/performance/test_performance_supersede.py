"""A re-upload supersedes the plan's earlier current rows of the same (member, month), and nothing else.

Runs on SQLite (chunked queries) and PostgreSQL (the keys COPYed into a temporary table, one UPDATE).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Role
from performance import services
from performance.models import UtilizationRow
from tests.factories import PayerFactory

from .conftest import FEB, JAN, MAR, scope_of, urow, utilization_csv

pytestmark = pytest.mark.django_db

ODD = "B\\7\tx"  # a backslash and a tab: escaped alike in the keys and in the rows COPYed on PostgreSQL


def upload(scope, rows, name="utilization.csv"):
    result = services.utilization_upload(
        scope=scope, data=utilization_csv(rows), filename=name, run_inline=True
    )
    assert result.status == "accepted", result.errors
    return result


def current(payer) -> dict[tuple[str, str], int]:
    """(member_id, month) -> ed_visits of the payer's current rows."""
    return {
        (m, month.isoformat()): ed
        for m, month, ed in UtilizationRow.objects.filter(payer=payer, superseded=False).values_list(
            "member_id", "month", "ed_visits"
        )
    }


def test_a_reupload_supersedes_the_overlapping_rows_only(plan, analyst_scope):
    first = upload(
        analyst_scope, [urow(m, month, ed=1) for m in ("A1", "A2", "A3", ODD) for month in (JAN, FEB)]
    )
    assert first.superseded_count == 0 and UtilizationRow.objects.count() == 8

    # A2 and A3 in February and ODD in January again; A4 is new; A2 in March is a new month.
    second = upload(
        analyst_scope,
        [
            urow("A2", FEB, ed=2),
            urow("A3", FEB, ed=2),
            urow(ODD, JAN, ed=2),
            urow("A4", FEB, ed=2),
            urow("A2", MAR, ed=2),
        ],
    )
    assert second.superseded_count == 3
    assert UtilizationRow.objects.filter(payer=plan, superseded=True).count() == 3
    assert UtilizationRow.objects.filter(payer=plan, superseded=False).count() == 10
    assert set(
        UtilizationRow.objects.filter(superseded=True).values_list("member_id", "month", "upload")
    ) == {("A2", FEB, first.pk), ("A3", FEB, first.pk), (ODD, JAN, first.pk)}
    rows = current(plan)
    assert rows[("A2", FEB.isoformat())] == rows[(ODD, JAN.isoformat())] == rows[("A4", FEB.isoformat())] == 2
    assert rows[("A2", JAN.isoformat())] == rows[(ODD, FEB.isoformat())] == 1

    # Once more in the same transaction (the test's): a row superseded twice over, the first one stays so.
    third = upload(analyst_scope, [urow("A2", FEB, ed=3), urow("A1", JAN, ed=3)])
    assert third.superseded_count == 2
    assert UtilizationRow.objects.filter(payer=plan, superseded=True).count() == 5
    assert UtilizationRow.objects.filter(payer=plan, superseded=False).count() == 10
    assert UtilizationRow.objects.filter(payer=plan, member_id="A2", month=FEB).count() == 3
    assert current(plan)[("A2", FEB.isoformat())] == 3


def test_another_plans_rows_of_the_same_members_are_left_alone(plan, analyst_scope, member_of):
    other = PayerFactory()
    other_scope = scope_of(member_of(other, Role.ANALYST), other)
    upload(other_scope, [urow("A1", JAN, ed=7), urow("A2", JAN, ed=7)])
    upload(analyst_scope, [urow("A1", JAN, ed=1)])
    again = upload(analyst_scope, [urow("A1", JAN, ed=2), urow("A2", JAN, ed=2)])
    assert again.superseded_count == 1
    assert current(other) == {("A1", JAN.isoformat()): 7, ("A2", JAN.isoformat()): 7}
    assert UtilizationRow.objects.filter(payer=other, superseded=True).count() == 0
    assert current(plan) == {("A1", JAN.isoformat()): 2, ("A2", JAN.isoformat()): 2}


def test_a_large_reupload_supersedes_every_row(plan, analyst_scope):
    rows = [urow(f"M{i:05d}", month) for i in range(1200) for month in (JAN, FEB)]
    upload(analyst_scope, rows)
    with CaptureQueriesContext(connection) as queries:
        again = upload(analyst_scope, [{**r, "ed_visits": 1} for r in rows])
    assert again.superseded_count == 2400 and again.row_count == 2400
    assert UtilizationRow.objects.filter(payer=plan, superseded=True, upload__lt=again.pk).count() == 2400
    assert UtilizationRow.objects.filter(payer=plan, superseded=False, upload=again).count() == 2400
    if connection.vendor == "postgresql":  # set-based: a few statements whatever the number of members
        updates = [q for q in queries.captured_queries if q["sql"].startswith("UPDATE")]
        assert len(updates) == 2, [q["sql"][:80] for q in updates]  # the supersede and superseded_count
        assert len(queries.captured_queries) < 20, len(queries.captured_queries)
